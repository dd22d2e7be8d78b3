#include "common/fs-fault.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static const char *const op_names[] = {"write", "fsync", "rename", "link", "unlink", "mkdir"};

static struct {
  uv_once_t once;
  int armed, kill, all, busy;
  enum fs_op op;
  unsigned long at;
  atomic_ulong calls;
  atomic_int counting;
} fault = {.once = UV_ONCE_INIT};

static void fault_parse(void) {
  const char *spec = getenv("GPUPV_FS_FAULT");
  if (!spec || !*spec)
    return;
  char name[16];
  unsigned long at;
  char how[8] = "";
  if (sscanf(spec, "%15[a-z]:%lu:%7s", name, &at, how) < 2 || !at)
    return;
  for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
    if (strcmp(name, op_names[i]) == 0) {
      fault.op = (enum fs_op)i;
      fault.at = at;
      fault.kill = strcmp(how, "kill") == 0;
      fault.all = strcmp(how, "all") == 0;
      fault.busy = strcmp(how, "busy") == 0;
      fault.armed = 1;
    }
  }
}

int fs_fault(enum fs_op op) {
  uv_once(&fault.once, fault_parse);
  if (!fault.armed || op != fault.op || !atomic_load(&fault.counting))
    return 0;
  unsigned long call = atomic_fetch_add(&fault.calls, 1) + 1;
  if (call != fault.at && !(fault.all && call > fault.at))
    return 0;
  if (fault.kill)
    _exit(137); /* no cleanup, no flush: what kill -9 leaves */
  if (call == fault.at) {
    /* said once, for the test that reads the log to know the fault was reached */
    char line[80];
    int n = snprintf(line, sizeof line, "gpupv fs fault: %s call %lu fails\n", op_names[op], call);
    if (n > 0 && write(2, line, (size_t)n) < 0)
      return UV_EIO;
  }
  return fault.busy ? UV_EBUSY : UV_EIO;
}

void fs_fault_arm(void) {
  atomic_store(&fault.counting, 1);
}

/*
 * A NanaBox configuration (*.7b) is JSON, often UTF-8 with a BOM: {"NanaBox": {"Type":
 * "VirtualMachine", ..., "Gpu": {"AssignmentMode": "Default" | "List" | "Mirror" | "Disabled",
 * "EnableHostDriverStore": true, "SelectedDevices": [...]}, ...}}. GPU-PV needs an assignment
 * other than Disabled; EnableHostDriverStore makes NanaBox share the host's DriverStore, which
 * gpupv replaces with an exact copy that follows driver updates.
 */
#include "cli/nanabox.h"

#include "common/buf.h"
#include "common/fs.h"
#include "common/options.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define NANABOX_MAX_BYTES (4u << 20)

static const char *const modes[] = {"Default", "List", "Mirror", "Disabled"};

static int valid_mode(const char *m) {
  for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
    if (strcmp(m, modes[i]) == 0)
      return 1;
  return 0;
}

/* Replaces or adds key in o, keeping its place when it was there. */
static void set_member(cJSON *o, const char *key, cJSON *value) {
  if (cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_ReplaceItemInObjectCaseSensitive(o, key, value);
  else
    cJSON_AddItemToObject(o, key, value);
}

static void show(const char *path, const cJSON *gpu) {
  char *text = gpu ? cJSON_Print(gpu) : NULL;
  printf("%s: Gpu %s\n", path, text ? text : "(none: the GPU is not assigned)");
  cJSON_free(text);
}

int nanabox_command(int argc, char **argv) {
  char *mode = NULL, *store = NULL;
  int help = 0, next, rc = 2;
  const struct opt opts[] = {
      {"mode", 0, OPT_STRING, &mode, "MODE",
       "set Gpu.AssignmentMode: Default, List, Mirror or Disabled", 0, 0},
      {"host-driver-store", 0, OPT_STRING, &store, "on|off", "set Gpu.EnableHostDriverStore", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[300];
  struct buf text;
  buf_init(&text);
  cJSON *doc = NULL;
  /* options may come before or after FILE */
  int rest = 0;
  if (options_parse(opts, argc, argv, 1, &next, err, sizeof err) ||
      (next < argc && options_parse(opts, argc - next, argv + next, 1, &rest, err, sizeof err))) {
    fprintf(stderr, "gpupv nanabox: %s\n", err);
    goto out;
  }
  if (help) {
    printf("Usage: gpupv nanabox FILE [--mode Default|List|Mirror|Disabled]\n"
           "                          [--host-driver-store on|off]\n\n"
           "Shows the Gpu object of a NanaBox configuration file (*.7b) or sets its\n"
           "AssignmentMode and EnableHostDriverStore, keeping every other member and its\n"
           "order; the file is replaced atomically and the old one kept as FILE.bak.\n"
           "GPU-PV needs a mode other than Disabled. With gpupv-guestd in the VM,\n"
           "--host-driver-store off: the guest holds its own copy of the host's driver.\n\n");
    options_print_help(stdout, opts);
    rc = 0;
    goto out;
  }
  if (next >= argc || rest < argc - next) {
    fprintf(stderr, "gpupv nanabox: give one FILE (see gpupv nanabox --help)\n");
    goto out;
  }
  if ((mode && !valid_mode(mode)) ||
      (store && strcmp(store, "on") != 0 && strcmp(store, "off") != 0)) {
    fprintf(stderr, "gpupv nanabox: --mode takes Default, List, Mirror or Disabled; "
                    "--host-driver-store on or off\n");
    goto out;
  }
  const char *path = argv[next];
  rc = 1;
  int e = fs_read_file(path, NANABOX_MAX_BYTES, &text);
  if (e) {
    fprintf(stderr, "gpupv nanabox: %s: %s\n", path, uv_strerror(e));
    goto out;
  }
  size_t bom = text.len >= 3 && memcmp(text.data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
  doc = cJSON_ParseWithLength((const char *)text.data + bom, text.len - bom);
  cJSON *vm = cJSON_GetObjectItemCaseSensitive(doc, "NanaBox");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(vm, "Type");
  if (!cJSON_IsObject(vm) || !cJSON_IsString(type) ||
      strcmp(type->valuestring, "VirtualMachine") != 0) {
    fprintf(stderr,
            "gpupv nanabox: %s is not a NanaBox configuration (a JSON object whose NanaBox "
            "member has Type \"VirtualMachine\")%s\n",
            path, doc ? "" : ": it is not JSON");
    goto out;
  }
  cJSON *gpu = cJSON_GetObjectItemCaseSensitive(vm, "Gpu");
  if (gpu && !cJSON_IsObject(gpu)) {
    fprintf(stderr, "gpupv nanabox: %s: NanaBox.Gpu is not an object\n", path);
    goto out;
  }
  if (!mode && !store) {
    show(path, gpu);
    rc = 0;
    goto out;
  }
  if (!gpu)
    cJSON_AddItemToObject(vm, "Gpu", gpu = cJSON_CreateObject());
  if (mode)
    set_member(gpu, "AssignmentMode", cJSON_CreateString(mode));
  if (store)
    set_member(gpu, "EnableHostDriverStore", cJSON_CreateBool(strcmp(store, "on") == 0));
  char *out = cJSON_Print(doc);
  struct buf next_text;
  buf_init(&next_text);
  char backup[1100];
  snprintf(backup, sizeof backup, "%s.bak", path);
  if (!out || buf_append(&next_text, text.data, bom) || buf_append_str(&next_text, out) ||
      buf_append_str(&next_text, "\n")) {
    fprintf(stderr, "gpupv nanabox: out of memory\n");
  } else if ((e = fs_write_atomic(backup, text.data, text.len, 0644)) ||
             (e = fs_write_atomic(path, next_text.data, next_text.len, 0644))) {
    fprintf(stderr, "gpupv nanabox: writing %s: %s\n", e ? path : backup, uv_strerror(e));
  } else {
    show(path, gpu);
    printf("(the previous file is %s; restart the VM in NanaBox for the change to apply)\n",
           backup);
    rc = 0;
  }
  cJSON_free(out);
  buf_done(&next_text);
out:
  cJSON_Delete(doc);
  buf_done(&text);
  free(mode);
  free(store);
  return rc;
}

#include "guest-agent/probe.h"

#include "common/buf.h"
#include "common/fs.h"
#include "common/text.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 5000
#define PROBE_OUTPUT_MAX 256

static int module_loaded(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "/sys/module/%s", name);
  if (fs_exists(path))
    return 1;
  struct buf text;
  buf_init(&text);
  int found = 0;
  if (fs_read_file("/proc/modules", 1 << 20, &text) == 0 && text.len) {
    size_t n = strlen(name);
    for (const char *line = (const char *)text.data; line && *line;) {
      if (strncmp(line, name, n) == 0 && line[n] == ' ')
        found = 1;
      line = strchr(line, '\n');
      line = line ? line + 1 : NULL;
    }
  }
  buf_done(&text);
  return found;
}

static long elapsed_ms(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Runs tool with args and returns the first line it prints, or "" when it fails or hangs. */
static void run_first_line(const char *tool, char *const argv[], char *out, size_t size) {
  int fds[2];
  out[0] = 0;
  if (pipe2(fds, O_CLOEXEC) != 0)
    return;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    execv(tool, argv);
    _exit(127);
  }
  close(fds[1]);
  char text[PROBE_OUTPUT_MAX];
  size_t got = 0;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    long left = PROBE_TIMEOUT_MS - elapsed_ms(&start);
    struct pollfd p = {fds[0], POLLIN, 0};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      break;
    ssize_t n = read(fds[0], text + got, sizeof text - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
    if (got == sizeof text - 1)
      break;
  }
  close(fds[0]);
  kill(pid, SIGKILL); /* harmless when it already exited */
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  text[got] = 0;
  text[strcspn(text, "\r\n")] = 0;
  text_copy(out, size, text);
}

cJSON *probe_gpu(const char *root) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  struct stat st;
  int dxg = stat("/dev/dxg", &st) == 0 && S_ISCHR(st.st_mode);
  int dxgkrnl = module_loaded("dxgkrnl") || dxg; /* built in kernels have no module entry */
  cJSON_AddBoolToObject(o, "dxg", dxg);
  cJSON_AddBoolToObject(o, "dxgkrnl", dxgkrnl);
  char smi[1200], version[64] = "";
  snprintf(smi, sizeof smi, "%s/usr/lib/wsl/lib/nvidia-smi", strcmp(root, "/") == 0 ? "" : root);
  if (access(smi, X_OK) == 0) {
    char *const argv[] = {smi, "--query-gpu=driver_version", "--format=csv,noheader", NULL};
    run_first_line(smi, argv, version, sizeof version);
  }
  cJSON_AddItemToObject(o, "nvidia_smi",
                        version[0] ? cJSON_CreateString(version) : cJSON_CreateNull());
  struct utsname u;
  if (uname(&u) == 0)
    cJSON_AddStringToObject(o, "kernel", u.release);
  cJSON_AddStringToObject(o, "os", "linux");
  cJSON_AddBoolToObject(o, "healthy", dxg && dxgkrnl);
  return o;
}

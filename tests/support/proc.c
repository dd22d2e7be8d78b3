#include "tests/support/proc.h"

#include "common/fs.h"
#include "tests/support/test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *proc_bin(const char *program) {
  static char path[3][1024];
  static int next;
  char *p = path[next++ % 3];
  if (!program)
    test_fail(__FILE__, __LINE__, "no program to run");
  const char *dir = strcmp(program, "gpupv-guestd") == 0 ? "guest-agent"
                    : strcmp(program, "gpupv") == 0      ? "cli"
                                                         : "host-agent";
  snprintf(p, 1024, "%s/%s/%s", GPUPV_BUILD_DIR, dir, program);
  return p;
}

char *proc_read_log(const char *path) {
  struct buf b;
  buf_init(&b);
  if (fs_read_file(path, 1 << 20, &b) || !b.data) {
    buf_done(&b);
    return strdup("(no log)");
  }
  return (char *)buf_steal(&b);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void spawn(struct proc *p, const char *log_path, char *const argv[], int ready_fd,
                  int stdout_fd) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", argv[0]);
  snprintf(p->log, sizeof p->log, "%s", log_path);
  int argc = 0;
  while (argv[argc])
    argc++;
  char **args = calloc((size_t)argc + 3, sizeof *args);
  char fdtext[16];
  args[0] = argv[0][0] == '/' ? argv[0] : (char *)proc_bin(argv[0]);
  for (int i = 1; i < argc; i++)
    args[i] = argv[i];
  if (ready_fd >= 0) {
    snprintf(fdtext, sizeof fdtext, "%d", ready_fd);
    args[argc++] = "--ready-fd";
    args[argc++] = fdtext;
  }
  int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  CHECK_MSG(log >= 0, "open %s: %s", log_path, strerror(errno));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* no daemon outlives a failed or timed-out test */
    dup2(stdout_fd >= 0 ? stdout_fd : log, 1);
    dup2(log, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    if (ready_fd >= 0)
      fcntl(ready_fd, F_SETFD, 0); /* the one descriptor the child inherits */
    execv(args[0], args);
    _exit(127);
  }
  close(log);
  free(args);
  p->pid = pid;
  p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  CHECK_MSG(p->pidfd >= 0, "pidfd_open: %s", strerror(errno));
}

void proc_start(struct proc *p, const char *log_path, char *const argv[], int *ret_stdout_fd) {
  int fds[2] = {-1, -1};
  if (ret_stdout_fd)
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
  spawn(p, log_path, argv, -1, fds[1]);
  if (ret_stdout_fd) {
    close(fds[1]);
    *ret_stdout_fd = fds[0];
  }
}

void proc_start_daemon(struct proc *p, const char *log_path, char *const argv[]) {
  int fds[2];
  CHECK(pipe2(fds, O_CLOEXEC) == 0);
  spawn(p, log_path, argv, fds[1], -1);
  close(fds[1]);
  struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {p->pidfd, POLLIN, 0}};
  char text[16] = "";
  int rc = poll(pf, 2, 30000);
  ssize_t n =
      rc > 0 && (pf[0].revents & (POLLIN | POLLHUP)) ? read(fds[0], text, sizeof text - 1) : 0;
  close(fds[0]);
  if (n > 0 && strncmp(text, "ready", 5) == 0)
    return;
  char *log = proc_read_log(log_path);
  test_fail(__FILE__, __LINE__, "%s did not become ready:\n%s", p->name, log);
}

int proc_wait(struct proc *p, int timeout_ms) {
  long deadline = now_ms() + timeout_ms;
  for (;;) {
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) {
      close(p->pidfd);
      p->pid = 0;
      return status;
    }
    long left = deadline - now_ms();
    if (left <= 0)
      return -1;
    struct pollfd pf = {p->pidfd, POLLIN, 0};
    poll(&pf, 1, (int)left); /* readable once the process has exited */
  }
}

void proc_stop(struct proc *p) {
  if (!p->pid)
    return;
  kill(p->pid, SIGTERM);
  int status = proc_wait(p, 30000);
  if (status == -1) {
    kill(p->pid, SIGKILL);
    proc_wait(p, 5000);
    test_fail(__FILE__, __LINE__, "%s did not stop on SIGTERM:\n%s", p->name,
              proc_read_log(p->log));
  }
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited with status %d:\n%s", p->name,
            status, proc_read_log(p->log));
}

void proc_kill(struct proc *p) {
  if (!p->pid)
    return;
  kill(p->pid, SIGKILL);
  CHECK(proc_wait(p, 10000) != -1);
}

int proc_run(char *const argv[], struct buf *out, struct buf *err_out) {
  int o[2], e[2];
  CHECK(pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(o[1], 1);
    dup2(e[1], 2);
    execv(argv[0][0] == '/' ? argv[0] : proc_bin(argv[0]), argv);
    _exit(127);
  }
  close(o[1]);
  close(e[1]);
  long deadline = now_ms() + 120000;
  int open_fds = 2;
  struct pollfd pf[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
  while (open_fds && now_ms() < deadline) {
    if (poll(pf, 2, 1000) <= 0)
      continue;
    for (int i = 0; i < 2; i++) {
      if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
        continue;
      char chunk[4096];
      ssize_t n = read(pf[i].fd, chunk, sizeof chunk);
      if (n > 0) {
        struct buf *dst = i == 0 ? out : err_out;
        if (dst)
          buf_append(dst, chunk, (size_t)n);
      } else {
        close(pf[i].fd);
        pf[i].fd = -1;
        open_fds--;
      }
    }
  }
  int status;
  if (open_fds)
    kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  for (int i = 0; i < 2; i++)
    if (pf[i].fd >= 0)
      close(pf[i].fd);
  CHECK_MSG(!open_fds, "%s did not finish in 120 s", argv[0]);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A "field: value" line of /proc/PID/file, as a number; -1 when there is none. */
static long proc_field(pid_t pid, const char *file, const char *field) {
  char path[64], line[256];
  size_t n = strlen(field);
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  FILE *f = fopen(path, "r");
  long value = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':')
      value = strtol(line + n + 1, NULL, 10);
  if (f)
    fclose(f);
  return value;
}

long proc_status_kb(pid_t pid, const char *field) {
  return proc_field(pid, "status", field);
}

long proc_io(pid_t pid, const char *field) {
  return proc_field(pid, "io", field);
}

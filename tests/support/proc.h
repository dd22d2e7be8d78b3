/* Spawning the real agents and CLI from the build tree, without sleeps. */
#ifndef GPUPV_TESTS_PROC_H
#define GPUPV_TESTS_PROC_H

#include "common/buf.h"

#include <sys/types.h>

struct proc {
  pid_t pid;
  int pidfd;
  char log[1024];
  char name[64];
};

/* The path of a program in the build tree: "gpupv-hostd", "gpupv-guestd" or "gpupv". */
const char *proc_bin(const char *program);
/*
 * Starts argv (argv[0] a program name for proc_bin) with stdout and stderr in log_path,
 * passing --ready-fd, and waits up to 30 s for it to report ready. Fails the test when it
 * exits first, showing its log.
 */
void proc_start_daemon(struct proc *p, const char *log_path, char *const argv[]);
/* Starts argv without waiting; stdout goes to *ret_stdout_fd when given, else to the log. */
void proc_start(struct proc *p, const char *log_path, char *const argv[], int *ret_stdout_fd);
/* Waits up to timeout_ms for the process to exit; returns its wait status, or -1 on timeout. */
int proc_wait(struct proc *p, int timeout_ms);
/* SIGTERM, then checks the process exits 0 within 30 s. */
void proc_stop(struct proc *p);
/* SIGKILL and reap. */
void proc_kill(struct proc *p);
/* Runs argv to completion (at most 120 s), capturing stdout into out; returns the exit code. */
int proc_run(char *const argv[], struct buf *out, struct buf *err_out);
/* A "kB" field of /proc/PID/status ("VmHWM", "VmRSS"); -1 when it cannot be read. */
long proc_status_kb(pid_t pid, const char *field);
/* A counter of /proc/PID/io ("rchar": bytes read by any call), or -1. */
long proc_io(pid_t pid, const char *field);
/* Reads a file into a new string for messages. */
char *proc_read_log(const char *path);

#endif

/*
 * The agents' shared command-line front: options, --help, --version, --config (the file first,
 * then the flags again so they win) and --log-level.
 */
#ifndef GPUPV_COMMON_CMDLINE_H
#define GPUPV_COMMON_CMDLINE_H

#include "common/options.h"

#include <uv.h>

/* The options every agent has, closing its option table. */
// clang-format off
#define CMDLINE_STANDARD_OPTIONS(log_level, help, version)                                        \
  {"log-level", 0, OPT_STRING, log_level, "LEVEL", "error, warn, info (default) or debug", 0, 0}, \
  {"help", 'h', OPT_FLAG, help, NULL, "show this help", 0, 0},                                    \
  {"version", 'V', OPT_FLAG, version, NULL, "show the version", 0, 0},                            \
  {0}
// clang-format on

struct cmdline {
  const char *program; /* "gpupv-hostd" */
  const char *usage;   /* printed before the options by --help */
  const char *epilog;  /* printed after them */
  const struct opt *opts;
  char **config;    /* the --config target in opts */
  char **log_level; /* the --log-level target in opts */
  int *help, *version;
};

/*
 * Parses argv and the config file and sets up logging. Returns -1 to go on, or the exit code
 * the program should end with: 0 after --help or --version, 2 after a one-line error.
 */
int cmdline_parse(const struct cmdline *c, int argc, char **argv);
/* Tells a supervisor that started us with --ready-fd that we are ready, once. */
void cmdline_signal_ready(int *fd);
/* Prints "PROGRAM: text" and returns 2, the exit code for bad usage. */
int cmdline_usage_error(const struct cmdline *c, const char *text);

/* How an agent starts on a loop, is asked to stop, and frees what is left once it ran. */
struct agent_life {
  int (*start)(void *agent, uv_loop_t *loop, void *cfg);
  void (*stop)(void *agent);
  void (*done)(void *agent);
};
/*
 * Runs an agent on a new loop until all its handles are closed; a failed start is stopped
 * at once, and the service manager's stop requests call stop. Returns the exit code: 0, or 1
 * when it did not start or left handles open.
 */
int cmdline_run_agent(const char *program, const struct agent_life *life, void *agent, void *cfg);

#endif

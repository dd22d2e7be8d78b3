#include "common/cmdline.h"

#include "common/fs.h"
#include "common/log.h"
#include "common/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmdline_usage_error(const struct cmdline *c, const char *text) {
  fprintf(stderr, "%s: %s\n", c->program, text);
  return 2;
}

int cmdline_parse(const struct cmdline *c, int argc, char **argv) {
  char err[512];
  int next;
  if (options_parse(c->opts, argc, argv, 0, &next, err, sizeof err))
    return cmdline_usage_error(c, err);
  if (*c->help) {
    fputs(c->usage, stdout);
    options_print_help(stdout, c->opts);
    fputs(c->epilog, stdout);
    return 0;
  }
  if (*c->version) {
    printf("%s %s (protocol 1)\n", c->program, GPUPV_VERSION);
    return 0;
  }
  if (*c->config) {
    char *path = strdup(*c->config);
    options_free(c->opts);
    int bad = !path || options_load_config(c->opts, path, err, sizeof err) ||
              options_parse(c->opts, argc, argv, 0, &next, err, sizeof err);
    free(path);
    if (bad)
      return cmdline_usage_error(c, err);
  }
  enum log_level level = LOG_INFO;
  if (*c->log_level && log_level_parse(*c->log_level, &level))
    return cmdline_usage_error(c, "--log-level must be error, warn, info or debug");
  log_init(c->program, level);
  return -1;
}

void cmdline_signal_ready(int *fd) {
  if (*fd < 0)
    return;
  fs_write_all(*fd, "ready\n", 6);
  fs_close(*fd);
  *fd = -1;
}

int cmdline_run_agent(const char *program, const struct agent_life *life, void *agent, void *cfg) {
  uv_loop_t loop;
  if (uv_loop_init(&loop))
    return 1;
  int rc = 0;
  if (life->start(agent, &loop, cfg)) {
    life->stop(agent);
    rc = 1;
  } else {
    service_watch_stop(&loop, life->stop, agent);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop)) {
    fprintf(stderr, "%s: handles left open at exit\n", program);
    rc = rc ? rc : 1;
  }
  life->done(agent);
  return rc;
}

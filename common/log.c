#include "common/log.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static const char *log_program = "gpupv";
static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[] = {"error", "warn", "info", "debug"};
static void (*log_sink)(enum log_level level, const char *text);

void log_set_sink(void (*sink)(enum log_level level, const char *text)) {
  log_sink = sink;
}

void log_init(const char *program, enum log_level level) {
  log_program = program;
  log_threshold = level;
}

int log_level_parse(const char *name, enum log_level *ret_level) {
  for (int i = 0; i <= LOG_DEBUG; i++) {
    if (strcmp(name, log_names[i]) == 0) {
      *ret_level = (enum log_level)i;
      return 0;
    }
  }
  return GPUPV_ECONFIG;
}

void log_msg(enum log_level level, const char *fmt, ...) {
  if (level > log_threshold)
    return;
  char line[2048];
  uv_timeval64_t now;
  struct tm tm;
  uv_gettimeofday(&now);
  time_t secs = (time_t)now.tv_sec;
  gmtime_r(&secs, &tm);
  int n =
      snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               (long)(now.tv_usec / 1000), log_program, log_names[level]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  /* One write per line keeps lines whole when several processes share a log. */
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
  if (log_sink)
    log_sink(level, line + n);
}

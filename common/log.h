/* Line-oriented logging to stderr: "2026-11-24T05:00:00.123Z gpupv-hostd info: ...". */
#ifndef GPUPV_COMMON_LOG_H
#define GPUPV_COMMON_LOG_H

#include "common/buf.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(const char *program, enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns 0 or GPUPV_ECONFIG. */
int log_level_parse(const char *name, enum log_level *ret_level);
void log_msg(enum log_level level, const char *fmt, ...) GPUPV_PRINTF(2, 3);
/* Also hands every line written (its text after the level) to sink, from whatever thread logs;
 * NULL stops. The Windows service sends warnings and errors to the Event Log this way. */
void log_set_sink(void (*sink)(enum log_level level, const char *text));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

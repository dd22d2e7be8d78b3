/* A minimal HTTP client for the dashboard tests: raw requests to 127.0.0.1. */
#ifndef GPUPV_TESTS_WEB_H
#define GPUPV_TESTS_WEB_H

#include "common/buf.h"

int web_connect(int port);
/* Sends raw request bytes and reads the whole answer (the server closes or times out). */
void web_exchange(int port, const char *request, size_t len, struct buf *ret);
/* GET path; returns the status code and leaves the body in ret (initialised here). */
int web_get(int port, const char *path, struct buf *ret);

/* /metrics text passes `promtool check metrics` and names no series twice. */
void web_check_metrics(const struct buf *body);

#endif

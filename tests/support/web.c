#include "tests/support/web.h"

#include "common/fs.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int web_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&in, sizeof in) == 0);
  return fd;
}

/* Sends raw request bytes and reads the whole answer (the server closes or times out). */
void web_exchange(int port, const char *request, size_t len, struct buf *ret) {
  int fd = web_connect(port);
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);
    if (n <= 0)
      break; /* the server may refuse before reading everything */
    off += (size_t)n;
  }
  shutdown(fd, SHUT_WR);
  buf_init(ret);
  for (;;) {
    struct pollfd pf = {fd, POLLIN, 0};
    CHECK_MSG(poll(&pf, 1, 30000) == 1, "no answer from the HTTP server");
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0)
      break;
    buf_append(ret, chunk, (size_t)n);
  }
  close(fd);
}

/* GET path; returns the status code and leaves the body in ret. */
int web_get(int port, const char *path, struct buf *ret) {
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  struct buf raw;
  web_exchange(port, req, (size_t)n, &raw);
  int code = 0;
  CHECK_MSG(raw.len && sscanf((char *)raw.data, "HTTP/1.%*d %d", &code) == 1, "not an HTTP answer");
  const char *body = strstr((char *)raw.data, "\r\n\r\n");
  buf_init(ret);
  if (body)
    buf_append_str(ret, body + 4);
  buf_done(&raw);
  return code;
}

static int compare_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void web_check_metrics(const struct buf *body) {
  const char *file = test_path("metrics.txt");
  CHECK(fs_write_atomic(file, body->data, body->len, 0644) == 0);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "promtool check metrics < %s", file);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  struct buf out, err;
  buf_init(&out);
  buf_init(&err);
  int rc = proc_run(argv, &out, &err);
  CHECK_MSG(rc == 0, "promtool check metrics failed (%d): %s%s", rc,
            out.data ? (char *)out.data : "", err.data ? (char *)err.data : "");
  buf_done(&out);
  buf_done(&err);
  /* every series (name and labels) once */
  char *text = strndup((const char *)body->data, body->len);
  size_t n = 0, cap = 1024;
  char **series = malloc(cap * sizeof *series);
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#')
      continue;
    char *space = strrchr(line, ' ');
    if (space)
      *space = 0;
    if (n == cap)
      series = realloc(series, (cap *= 2) * sizeof *series);
    series[n++] = line;
  }
  qsort(series, n, sizeof *series, compare_lines);
  for (size_t i = 1; i < n; i++)
    CHECK_MSG(strcmp(series[i - 1], series[i]) != 0, "/metrics repeats the series %s", series[i]);
  free(series);
  free(text);
}

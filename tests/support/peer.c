#include "tests/support/peer.h"

#include "common/buf.h"
#include "proto/frame.h"
#include "tests/support/test.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int on_control(void *ctx, const uint8_t *payload, size_t n) {
  struct peer *p = ctx;
  CHECK_MSG(msg_parse(payload, n, &p->msg, &p->type) == 0, "the other side sent a bad message");
  return 1; /* stop: one message at a time */
}

static int on_data(void *ctx, const uint8_t *data, size_t n) {
  struct peer *p = ctx;
  unsigned char *more = realloc(p->data, p->data_len + n + 1);
  CHECK(more);
  p->data = more;
  memcpy(p->data + p->data_len, data, n);
  p->data_len += n;
  p->data[p->data_len] = 0;
  return 0;
}

static const struct frame_reader_ops ops = {on_control, on_data};

static void peer_init(struct peer *p, int fd) {
  memset(p, 0, sizeof *p);
  p->fd = fd;
  frame_reader_init(&p->reader);
}

int peer_listen_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(fd, 4) == 0);
  return fd;
}

void peer_accept(int lfd, struct peer *p) {
  struct pollfd pf = {lfd, POLLIN, 0};
  CHECK_MSG(poll(&pf, 1, 30000) == 1, "nobody connected: is the agent still running?");
  int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  CHECK(fd >= 0);
  peer_init(p, fd);
}

void peer_connect_unix(struct peer *p, const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
  CHECK_MSG(fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0,
            "cannot connect to %s: is the agent still running?", path);
  peer_init(p, fd);
}

/* Waits for bytes (30 s at most), reads them into the frame reader and processes them.
 * Returns the reader's result (1: a control message came), or -1 when the other side closed. */
static int read_more(struct peer *p) {
  struct pollfd pf = {p->fd, POLLIN, 0};
  CHECK_MSG(poll(&pf, 1, 30000) == 1, "the other side went silent");
  uint8_t *space;
  size_t len;
  CHECK(frame_reader_space(&p->reader, 65536, &space, &len) == 0);
  ssize_t n = read(p->fd, space, len);
  if (n <= 0)
    return -1;
  int rc = frame_reader_commit(&p->reader, (size_t)n, &ops, p);
  CHECK_MSG(rc == 0 || rc == 1, "the other side sent a bad frame");
  return rc;
}

cJSON *peer_recv(struct peer *p, enum msg_type *ret_type) {
  cJSON_Delete(p->msg);
  p->msg = NULL;
  free(p->data);
  p->data = NULL;
  p->data_len = 0;
  /* a message may already be buffered */
  int rc = frame_reader_commit(&p->reader, 0, &ops, p);
  while (rc == 0)
    rc = read_more(p);
  if (rc < 0)
    return NULL;
  *ret_type = p->type;
  return p->msg;
}

cJSON *peer_recv_type(struct peer *p, enum msg_type type) {
  enum msg_type got;
  cJSON *m;
  while ((m = peer_recv(p, &got)) && got != type)
    ;
  return m;
}

void peer_read_data(struct peer *p, size_t size) {
  /* frames read with the last message may already hold some of it */
  CHECK_MSG(frame_reader_commit(&p->reader, 0, &ops, p) == 0,
            "a control message arrived inside the data");
  while (p->data_len < size) {
    int rc = read_more(p);
    CHECK_MSG(rc >= 0, "the other side closed before sending %zu bytes", size);
    CHECK_MSG(rc == 0, "a control message arrived inside the data");
  }
}

void peer_read_data_nowait(struct peer *p) {
  CHECK_MSG(frame_reader_commit(&p->reader, 0, &ops, p) == 0,
            "a control message arrived inside the data");
  struct pollfd pf = {p->fd, POLLIN, 0};
  while (poll(&pf, 1, 0) == 1) {
    int rc = read_more(p);
    CHECK_MSG(rc >= 0, "the other side closed inside the data");
    CHECK_MSG(rc == 0, "a control message arrived inside the data");
  }
}

int peer_wait_closed(struct peer *p, int timeout_ms) {
  /* only the hang-up: unread data stays unread, as a peer that stopped reading leaves it */
  struct pollfd pf = {p->fd, POLLRDHUP, 0};
  return poll(&pf, 1, timeout_ms) == 1 && (pf.revents & (POLLHUP | POLLRDHUP));
}

void peer_send_bytes(struct peer *p, const void *data, size_t len) {
  const char *c = data;
  while (len) {
    ssize_t n = send(p->fd, c, len, MSG_NOSIGNAL);
    if (n <= 0)
      return; /* the other side may already have hung up on us */
    c += n;
    len -= (size_t)n;
  }
}

void peer_send_msg(struct peer *p, cJSON *msg) {
  struct buf b;
  buf_init(&b);
  CHECK(msg_encode(&b, msg) == 0);
  peer_send_bytes(p, b.data, b.len);
  buf_done(&b);
  cJSON_Delete(msg);
}

void peer_send_data(struct peer *p, const void *data, size_t len) {
  uint8_t header[FRAME_HEADER_LEN];
  frame_header_encode(header, FRAME_DATA, 0, (uint32_t)len);
  peer_send_bytes(p, header, sizeof header);
  peer_send_bytes(p, data, len);
}

void peer_close(struct peer *p) {
  cJSON_Delete(p->msg);
  p->msg = NULL;
  free(p->data);
  p->data = NULL;
  frame_reader_done(&p->reader);
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
}

char *peer_expect_refusal(struct peer *p, char **ret_code) {
  enum msg_type type;
  char *text = NULL, *code = NULL;
  cJSON *m;
  while ((m = peer_recv(p, &type))) {
    if (type == MSG_ERROR && !text) {
      const cJSON *t = cJSON_GetObjectItem(m, "message"), *c = cJSON_GetObjectItem(m, "code");
      text = strdup(cJSON_IsString(t) ? t->valuestring : "");
      code = cJSON_IsString(c) ? strdup(c->valuestring) : NULL;
    }
  }
  peer_close(p);
  CHECK_MSG(text, "the other side closed without saying why");
  if (ret_code)
    *ret_code = code;
  else
    free(code);
  return text;
}

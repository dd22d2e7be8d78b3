#include "net/conn.h"

#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONN_READ_SIZE (256u << 10)

static void on_handle_closed(uv_handle_t *h);
static void on_shutdown(uv_shutdown_t *req, int status);

struct write_req {
  uv_write_t req;
  struct conn *c;
  uint8_t *mem;
  size_t len;
};

struct conn *conn_new(uv_loop_t *loop, enum uri_kind kind, const struct conn_ops *ops,
                      void *owner) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  int err = kind == URI_UNIX ? uv_pipe_init(loop, &c->h.pipe, 0) : uv_tcp_init(loop, &c->h.tcp);
  if (err) {
    free(c);
    return NULL;
  }
  c->h.handle.data = c;
  c->kind = kind;
  c->ops = ops;
  c->owner = owner;
  frame_reader_init(&c->reader);
  snprintf(c->peer, sizeof c->peer, "peer");
  return c;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ret) {
  (void)suggested;
  struct conn *c = h->data;
  uint8_t *p;
  size_t len;
  if (frame_reader_space(&c->reader, CONN_READ_SIZE, &p, &len)) {
    *ret = uv_buf_init(NULL, 0);
    return;
  }
  *ret = uv_buf_init((char *)p, (unsigned)len);
}

static int reader_on_control(void *ctx, const uint8_t *payload, size_t len) {
  struct conn *c = ctx;
  cJSON *msg;
  enum msg_type type;
  int err = msg_parse(payload, len, &msg, &type);
  if (err) {
    log_warn("%s: %s: refused", c->peer, gpupv_strerror(err));
    return err;
  }
  err = c->ops->on_control(c, type, msg);
  cJSON_Delete(msg);
  return err ? err : c->closing;
}

static int reader_on_data(void *ctx, const uint8_t *data, size_t len) {
  struct conn *c = ctx;
  int err = c->ops->on_data(c, data, len);
  return err ? err : c->closing;
}

static const struct frame_reader_ops reader_ops = {reader_on_control, reader_on_data};

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct conn *c = s->data;
  if (n == 0 || c->closing)
    return;
  if (n < 0) {
    if (n != UV_EOF)
      log_info("%s: read: %s", c->peer, uv_strerror((int)n));
    conn_close(c, (int)n);
    return;
  }
  c->bytes_in += (uint64_t)n;
  int err = frame_reader_commit(&c->reader, (size_t)n, &reader_ops, c);
  if (err && !c->closing) {
    if (err < 0)
      log_warn("%s: closing: %s", c->peer, gpupv_strerror(err));
    conn_close(c, err < 0 ? err : GPUPV_EPROTO);
  }
}

int conn_start(struct conn *c) {
  c->reading = 1;
  return uv_read_start(&c->h.stream, on_alloc, on_read);
}

void conn_pause(struct conn *c) {
  if (c->reading && !c->closing) {
    uv_read_stop(&c->h.stream);
    c->reading = 0;
  }
}

void conn_resume(struct conn *c) {
  if (!c->reading && !c->closing)
    conn_start(c);
}

static void on_write(uv_write_t *req, int status) {
  struct write_req *w = (struct write_req *)req;
  struct conn *c = w->c;
  c->write_queued -= w->len;
  c->write_progress_ms = uv_now(c->h.handle.loop);
  free(w->mem);
  free(w);
  if (status && !c->closing) {
    log_info("%s: write: %s", c->peer, uv_strerror(status));
    conn_close(c, status);
    return;
  }
  if (!c->closing && c->ops->on_drain && c->write_queued < CONN_LOW_WATER)
    c->ops->on_drain(c);
}

/* Queues mem (taken over) for writing. */
static int conn_write(struct conn *c, uint8_t *mem, size_t len) {
  struct write_req *w = NULL;
  int err = UV_ECANCELED;
  if (c->closing)
    goto fail;
  err = UV_ENOMEM;
  if (!(w = malloc(sizeof *w)))
    goto fail;
  w->c = c;
  w->mem = mem;
  w->len = len;
  uv_buf_t b = uv_buf_init((char *)mem, (unsigned)len);
  if ((err = uv_write(&w->req, &c->h.stream, &b, 1, on_write)))
    goto fail;
  if (!c->write_queued)
    c->write_progress_ms = uv_now(c->h.handle.loop);
  c->write_queued += len;
  c->bytes_out += len;
  return 0;
fail:
  free(w);
  free(mem);
  return err;
}

int conn_send_msg(struct conn *c, const cJSON *msg) {
  struct buf out;
  buf_init(&out);
  int err = msg_encode(&out, msg);
  if (err) {
    buf_done(&out);
    return err;
  }
  size_t len = out.len;
  return conn_write(c, buf_steal(&out), len);
}

int conn_send_data(struct conn *c, uint8_t *mem, size_t len) {
  if (len > FRAME_DATA_MAX) {
    free(mem);
    return GPUPV_ETOO_BIG;
  }
  frame_header_encode(mem, FRAME_DATA, 0, (uint32_t)len);
  return conn_write(c, mem, FRAME_HEADER_LEN + len);
}

int conn_send_bytes(struct conn *c, const uint8_t *data, size_t len) {
  for (size_t off = 0; off < len; off += FRAME_DATA_MAX) {
    size_t n = len - off < FRAME_DATA_MAX ? len - off : FRAME_DATA_MAX;
    uint8_t *mem = malloc(FRAME_HEADER_LEN + n);
    if (!mem)
      return UV_ENOMEM;
    memcpy(mem + FRAME_HEADER_LEN, data + off, n);
    int err = conn_send_data(c, mem, n);
    if (err)
      return err;
  }
  return 0;
}

static void conn_vfail(struct conn *c, int err, const char *code, const char *fmt, va_list ap)
    GPUPV_PRINTF(4, 0);

static void conn_vfail(struct conn *c, int err, const char *code, const char *fmt, va_list ap) {
  char text[1024];
  vsnprintf(text, sizeof text, fmt, ap);
  log_warn("%s: %s", c->peer, text);
  if (c->closing)
    return;
  cJSON *msg = msg_new(MSG_ERROR);
  int sent = msg && cJSON_AddStringToObject(msg, "message", text) &&
             (!code || cJSON_AddStringToObject(msg, "code", code)) && conn_send_msg(c, msg) == 0;
  cJSON_Delete(msg);
  if (!sent) {
    conn_close(c, err);
    return;
  }
  /* Let the error reach the peer before the handle closes. */
  conn_pause(c);
  c->closing = 1;
  c->close_reason = err;
  if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown))
    uv_close(&c->h.handle, on_handle_closed);
}

int conn_send_document(struct conn *c, enum msg_type type, const cJSON *doc) {
  char *text = cJSON_PrintUnformatted(doc);
  cJSON *head = msg_new(type);
  int err = UV_ENOMEM;
  size_t len = text ? strlen(text) : 0;
  if (text && head && cJSON_AddNumberToObject(head, "size", (double)len) &&
      !(err = conn_send_msg(c, head)))
    err = conn_send_bytes(c, (const uint8_t *)text, len);
  cJSON_Delete(head);
  cJSON_free(text);
  return err;
}

void conn_fail(struct conn *c, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  conn_vfail(c, err, NULL, fmt, ap);
  va_end(ap);
}

void conn_fail_code(struct conn *c, int err, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  conn_vfail(c, err, code, fmt, ap);
  va_end(ap);
}

uint64_t conn_write_stalled_ms(const struct conn *c, uint64_t now_ms) {
  if (!c->write_queued || now_ms < c->write_progress_ms)
    return 0;
  return now_ms - c->write_progress_ms;
}

void conn_hold(struct conn *c) {
  c->holds++;
}

void conn_release(struct conn *c) {
  if (--c->holds == 0 && c->closed)
    free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (c->ops->on_close)
    c->ops->on_close(c, c->close_reason);
  frame_reader_done(&c->reader);
  c->closed = 1;
  if (!c->holds)
    free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  struct conn *c = req->handle->data;
  uv_close(&c->h.handle, on_handle_closed);
}

void conn_close(struct conn *c, int reason) {
  if (c->closing)
    return;
  c->closing = 1;
  c->close_reason = reason;
  /* uv_close cancels queued writes; their callbacks run first with UV_ECANCELED. */
  uv_close(&c->h.handle, on_handle_closed);
}

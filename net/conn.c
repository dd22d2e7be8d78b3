#include "net/conn.h"

#include "common/err.h"
#include "common/log.h"
#include "common/text.h"
#include "net/tls.h"
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

#define CONN_TLS_READ_SIZE (64u << 10)

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ret) {
  (void)suggested;
  struct conn *c = h->data;
  if (c->tls) {
    /* ciphertext lands in its own buffer; plaintext goes to the frame reader */
    *ret = uv_buf_init((char *)c->tls_in, CONN_TLS_READ_SIZE);
    return;
  }
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

/* Hands n bytes now in the frame reader's space to the frame reader; 0, or closes c. */
static int deliver(struct conn *c, size_t n) {
  int err = frame_reader_commit(&c->reader, n, &reader_ops, c);
  if (err && !c->closing) {
    if (err < 0)
      log_warn("%s: closing: %s", c->peer, gpupv_strerror(err));
    conn_close(c, err < 0 ? err : GPUPV_EPROTO);
  }
  return err || c->closing;
}

static int conn_write_raw(struct conn *c, uint8_t *mem, size_t len);

/* Sends whatever ciphertext the TLS session has made. */
static int tls_flush(struct conn *c) {
  uint8_t *mem;
  size_t len;
  int err = tls_session_take_output(c->tls, &mem, &len);
  if (err || !len)
    return err;
  return conn_write_raw(c, mem, len);
}

/* The handshake ended: the client's owner hears through on_secure; the accepting side closes
 * a failed one itself. */
static void tls_handshake_ended(struct conn *c, int err) {
  if (!err) {
    c->tls_ready = 1;
    c->has_peer_key = tls_session_peer_key(c->tls, c->peer_key) == 0;
    if (c->has_peer_key) {
      char hex[2 * sizeof c->peer_key + 1];
      text_hex_encode(c->peer_key, sizeof c->peer_key, hex);
      snprintf(c->peer_id, sizeof c->peer_id, "key:%s", hex);
    }
  } else {
    log_info("%s: TLS handshake failed: %s", c->peer,
             err == GPUPV_ETLS ? tls_session_error(c->tls)
             : err == UV_EOF   ? "the peer closed the connection (not a tls:// endpoint?)"
                               : gpupv_strerror(err));
  }
  void (*cb)(struct conn *, int) = c->on_secure;
  c->on_secure = NULL;
  if (cb)
    cb(c, err);
  else if (err)
    conn_close(c, err);
}

/* Ciphertext arrived: moves the handshake on, then hands the plaintext to the frame reader. */
static void tls_on_read(struct conn *c, size_t n) {
  int err = tls_session_feed(c->tls, c->tls_in, n);
  if (!err && !c->tls_ready) {
    int done = tls_session_handshake(c->tls);
    err = tls_flush(c);
    if (done < 0 || err) {
      tls_handshake_ended(c, done < 0 ? done : err);
      return;
    }
    if (done)
      tls_handshake_ended(c, 0);
    if (!done || c->closing)
      return;
  }
  while (!err && !c->closing) {
    uint8_t *p;
    size_t cap, got;
    if (frame_reader_space(&c->reader, CONN_READ_SIZE, &p, &cap)) {
      err = UV_ENOMEM;
      break;
    }
    if ((err = tls_session_read(c->tls, p, cap, &got)) || !got)
      break;
    if (deliver(c, got))
      return;
  }
  if (!err)
    err = tls_flush(c);
  if (err && !c->closing) {
    if (err != UV_EOF)
      log_warn("%s: closing: %s", c->peer,
               err == GPUPV_ETLS ? tls_session_error(c->tls) : gpupv_strerror(err));
    conn_close(c, err);
  }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct conn *c = s->data;
  if (n == 0 || c->closing)
    return;
  if (n < 0) {
    if (c->tls && !c->tls_ready && c->on_secure) {
      tls_handshake_ended(c, (int)n); /* the peer went away before the handshake ended */
      return;
    }
    if (n != UV_EOF)
      log_info("%s: read: %s", c->peer, uv_strerror((int)n));
    conn_close(c, (int)n);
    return;
  }
  c->bytes_in += (uint64_t)n;
  if (c->tls)
    tls_on_read(c, (size_t)n);
  else
    deliver(c, (size_t)n);
}

int conn_start(struct conn *c) {
  if (c->reading)
    return 0;
  c->reading = 1;
  return uv_read_start(&c->h.stream, on_alloc, on_read);
}

int conn_start_tls(struct conn *c, const struct tls_identity *id) {
  int err = UV_ENOMEM;
  if (!(c->tls_in = malloc(CONN_TLS_READ_SIZE)) || (err = tls_session_new(id, &c->tls)))
    return err;
  if ((err = conn_start(c)))
    return err;
  if (tls_session_handshake(c->tls) < 0) /* a client's hello; nothing yet on the accepting side */
    return GPUPV_ETLS;
  return tls_flush(c);
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

/* Queues mem (taken over) for writing as it is. */
static int conn_write_raw(struct conn *c, uint8_t *mem, size_t len) {
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

/* Queues mem (taken over) for writing, inside the TLS session where there is one. */
static int conn_write(struct conn *c, uint8_t *mem, size_t len) {
  if (!c->tls)
    return conn_write_raw(c, mem, len);
  int err = c->closing ? UV_ECANCELED : !c->tls_ready ? UV_EAGAIN : 0;
  if (!err)
    err = tls_session_write(c->tls, mem, len);
  free(mem);
  return err ? err : tls_flush(c);
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
  if (c->tls) {
    tls_session_close_notify(c->tls);
    tls_flush(c);
  }
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
  tls_session_free(c->tls);
  c->tls = NULL;
  free(c->tls_in);
  c->tls_in = NULL;
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

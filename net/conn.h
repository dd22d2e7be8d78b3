/*
 * A framed connection on a libuv stream: reads frames with proto/reader, writes control
 * messages and data frames, tracks the write queue, and closes asynchronously.
 */
#ifndef GPUPV_NET_CONN_H
#define GPUPV_NET_CONN_H

#include "common/buf.h"
#include "net/uri.h"
#include "proto/msg.h"
#include "proto/reader.h"

#include <stdint.h>
#include <uv.h>

struct conn;
struct tls_identity;
struct tls_session;

struct conn_ops {
  /* A parsed control message; msg is borrowed for the call. A non-zero return closes. */
  int (*on_control)(struct conn *c, enum msg_type type, const cJSON *msg);
  /* Data frame payload bytes, in pieces. A non-zero return closes. */
  int (*on_data)(struct conn *c, const uint8_t *data, size_t len);
  /* The write queue fell below CONN_LOW_WATER. Optional. */
  void (*on_drain)(struct conn *c);
  /* The connection is closed; reason is 0 for a local close, UV_EOF, or an error. The conn is
   * freed right after this returns. */
  void (*on_close)(struct conn *c, int reason);
};

#define CONN_HIGH_WATER (4u << 20)
#define CONN_LOW_WATER (1u << 20)

struct conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  uv_shutdown_t shutdown;
  enum uri_kind kind;
  const struct conn_ops *ops;
  void *owner;
  struct frame_reader reader;
  size_t write_queued;
  uint64_t bytes_in, bytes_out;
  int closing, reading, close_reason;
  int holds;                  /* work in flight that points at the conn (conn_hold) */
  int closed;                 /* the handle is closed; freed when the last hold goes */
  uint64_t write_progress_ms; /* uv_now when a write last completed or the queue filled */
  char peer[128];             /* for log lines */
  /* transport identity ("vsock:3", "key:<64 hex>" over tls), or empty where there is none */
  char peer_id[80];
  /* tls:// only: frames travel inside the session, and the peer proved it holds peer_key */
  struct tls_session *tls;
  int tls_ready;    /* the handshake is done */
  int has_peer_key; /* peer_key is set */
  uint8_t peer_key[32];
  uint8_t *tls_in; /* ciphertext read buffer */
  /* A connecting client's handshake ended (0 or an error); the callee closes on an error.
   * Unset on the accepting side, where a failed handshake closes the conn. */
  void (*on_secure)(struct conn *c, int status);
};

/* Returns a new conn with its handle initialised for the transport kind, or NULL. */
struct conn *conn_new(uv_loop_t *loop, enum uri_kind kind, const struct conn_ops *ops, void *owner);
/* Starts reading; call once connected or accepted. Starting twice is harmless. */
int conn_start(struct conn *c);
/* Wraps a connected or accepted tcp conn in TLS with identity id (net/tls.h); a client sends
 * its hello at once and hears of the end of the handshake through c->on_secure. Nothing may be
 * sent before the handshake is done (the send fails with UV_EAGAIN). */
int conn_start_tls(struct conn *c, const struct tls_identity *id);
int conn_send_msg(struct conn *c, const cJSON *msg);
/* Sends an error message naming the problem, then closes. */
void conn_fail(struct conn *c, int err, const char *fmt, ...) GPUPV_PRINTF(3, 4);
/* The same with a machine-readable "code" member (may be NULL). */
void conn_fail_code(struct conn *c, int err, const char *code, const char *fmt, ...)
    GPUPV_PRINTF(4, 5);
/* Milliseconds the peer has read none of what is queued for it (0 when nothing is queued). */
uint64_t conn_write_stalled_ms(const struct conn *c, uint64_t now_ms);
/* Keeps c allocated for work in flight after it closes (on_close still runs at close); each
 * hold is dropped with conn_release, which frees a closed conn with its last hold. */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);
/*
 * Sends a data frame. mem holds FRAME_HEADER_LEN spare bytes followed by len payload bytes and
 * is taken over (freed with free()) whatever the result.
 */
int conn_send_data(struct conn *c, uint8_t *mem, size_t len);
/*
 * Sends a JSON document of any size: a control message {"type": type, "size": N} followed by
 * N bytes of data frames holding doc in compact JSON.
 */
int conn_send_document(struct conn *c, enum msg_type type, const cJSON *doc);
/* Sends len bytes (copied) as as many data frames as they need. */
int conn_send_bytes(struct conn *c, const uint8_t *data, size_t len);
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* Closes; on_close runs later. Safe to call more than once. */
void conn_close(struct conn *c, int reason);

#endif

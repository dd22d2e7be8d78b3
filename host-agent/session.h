/*
 * One guest connection on the host: hello, offer, want, blob streaming, installed. A session
 * knows nothing of the host agent: it reads what is published from its session_env and tells
 * it what happened through callbacks, so a unit test can drive one over a socketpair.
 *
 * The state machine is a transition table (session.c): a message the current state does not
 * allow is refused with GPUPV_EORDER, logged once, and closes the session.
 */
#ifndef GPUPV_HOST_SESSION_H
#define GPUPV_HOST_SESSION_H

#include "common/sign.h"
#include "host-agent/guests.h"
#include "host-agent/source.h"
#include "net/conn.h"

#include <stdint.h>
#include <uv.h>

#define SESSION_WANT_MAX_PER_MSG 1024

/* What the host offers; owned by the host agent, read by sessions when they offer. */
struct session_offer {
  struct generation *gen;                         /* NULL until a scan succeeded */
  char signature_hex[2 * SIGN_SIG_LEN + 1];       /* of gen's id */
  char plain_signature_hex[2 * SIGN_SIG_LEN + 1]; /* of its plain form's id */
  char key_hex[2 * SIGN_KEY_LEN + 1];
  const char *host_name;
};

/* A guest's hello, checked; the text is as the guest sent it (the registry cleans it). */
struct session_hello {
  const char *id;   /* the transport's peer id, else "name:<name>" */
  const char *name; /* 1 to 63 bytes */
  const char *transport;
  const uint8_t *generation; /* installed, or NULL */
  const uint8_t *pinned;     /* the generation a rollback pinned the guest to, or NULL */
  const cJSON *status;       /* or NULL */
  int system_files;          /* it announced the system_files capability */
  const uint8_t *key;        /* the key a tls:// guest proved it holds, or NULL */
};

struct session;

struct session_list {
  struct session *head;
  size_t n;
};

struct session_env {
  uv_loop_t *loop;
  const struct session_offer *offer;
  struct session_list *list; /* every open session, kept by session.c */
  uint64_t max_rate;         /* bytes per second per session, 0 for no limit */
  uint64_t hello_timeout_ms;
  void *ctx;
  /*
   * Binds the session to its guest record. NULL refuses the guest: *ret_err and why (sent to
   * the guest and logged) say why; a non-empty code is a machine-readable reason for it.
   */
  struct guest *(*on_hello)(void *ctx, struct session *s, const struct session_hello *hello,
                            int *ret_err, char *why, size_t why_size, const char **ret_code);
  /* The welcome went out: the guest may be pushed. */
  void (*on_ready)(void *ctx, struct guest *g);
  /* A status report (raw, to be cleaned). */
  void (*on_report)(void *ctx, struct guest *g, const cJSON *status);
  /* A push moved on (offered, sending, installing): worth showing, not saving. */
  void (*on_push_progress)(void *ctx, struct guest *g);
  /* A push ended; installed is the generation the guest now has (NULL when it failed). The
   * record's texts are cleaned. */
  void (*on_push_finished)(void *ctx, struct guest *g, const struct push_record *r,
                           const uint8_t *installed);
  /* The connection is gone; g is NULL before hello. */
  void (*on_closed)(void *ctx, struct guest *g, struct session *s, int reason);
};

/* Adopts an accepted connection, which starts reading. NULL when out of memory. */
struct session *session_new(const struct session_env *env, struct conn *c);
/* Offers the published generation. UV_EBUSY unless the session is idle after hello. */
int session_push(struct session *s);
int session_busy(const struct session *s);
/* The push's phase for people: "offered", "sending", "installing", or "idle". */
const char *session_phase(const struct session *s);
void session_progress(const struct session *s, uint64_t *ret_done, uint64_t *ret_total);
/* Tells the guest something without ending the session (a "notice"). */
void session_notice(struct session *s, const char *code, const char *text);
/* Ends the session with an error message to the guest (code may be NULL). */
void session_fail(struct session *s, int err, const char *code, const char *text);
void session_close(struct session *s, int reason);
void session_close_all(struct session_list *list);
/* 1 when any session of list has a push in flight. */
int session_list_busy(const struct session_list *list);
/* Closes sessions whose guest has not read what was written for timeout_ms. */
void session_close_stalled(struct session_list *list, uint64_t now_ms, uint64_t timeout_ms);

#endif

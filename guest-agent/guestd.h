/* The guest agent: one connection to the host, the receive pipeline and the installer. */
#ifndef GPUPV_GUEST_GUESTD_H
#define GPUPV_GUEST_GUESTD_H

#include "common/sign.h"
#include "guest-agent/host-key.h"
#include "guest-agent/receiver.h"
#include "guest-agent/store.h"
#include "net/tls.h"
#include "net/transport.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#define GUESTD_REPORT_INTERVAL_S 60

struct guestd_config {
  char *config;
  char *connect;
  char *root;
  char *state_dir;
  char *name;
  char *log_level;
  char *host_key; /* pinned host key (hex); else pinned on first contact */
  long ready_fd;
  long retry_max_ms;
  long report_interval_s; /* a report at least this often, and when a check changes */
  char *install_bundle;   /* --install-bundle FILE, then exit */
  int rollback, unpin, prune_legacy, adapters, show_key;
};

enum client_state {
  C_DISCONNECTED, /* waiting to (re)connect */
  C_CONNECTING,
  C_WELCOME,    /* hello sent */
  C_IDLE,       /* in session, nothing in flight */
  C_MANIFEST,   /* receiving the offered manifest */
  C_PLANNING,   /* working out what we lack */
  C_RECEIVING,  /* receiving blobs */
  C_INSTALLING, /* building and switching */
};

struct guestd {
  uv_loop_t *loop;
  struct guestd_config *cfg;
  struct store store;
  struct uri uri;
  enum client_state state;
  struct conn *c;
  int stopping, ready_fd, job_pending, failures;
  int lock_fd; /* STATE/lock, held for the agent's lifetime; -1 before */
  uint64_t backoff_ms;
  uv_timer_t retry_timer;
  /* the checks between pushes: probed on report_timer, sent when they change or are old */
  uv_timer_t report_timer;
  uv_work_t report_work;
  int report_pending;
  cJSON *report_next;   /* the report_work's result */
  uint64_t reported_ms; /* when the host last had the checks */
  cJSON *reported;      /* what it had */
  uv_signal_t sigterm, sigint;
  cJSON *status;           /* latest probe result */
  struct host_key trusted; /* the host key this guest trusts (host-key.h) */
  /* tls:// only: this guest's own key in a certificate, and the key the host proved it holds
   * in this connection's handshake (its offers must be signed with that key) */
  struct sign_key *guest_key;
  struct tls_identity *tls;
  uint8_t tls_host_key[SIGN_KEY_LEN];
  int has_tls_host_key;
  /* the offer in flight */
  uint8_t offer_id[HASH_LEN];
  char offer_hex[HASH_HEX_LEN + 1];
  uint64_t manifest_size;
  struct buf manifest_bytes;
  struct manifest *m;
  struct manifest_blob *blobs; /* of m, sorted by hash */
  size_t nblobs;
  uint8_t *want; /* sorted hashes we asked for */
  uint8_t *received;
  size_t nwant, nreceived;
  struct receiver rx;
  /* records of the objects received by this process, until an install has saved them; read
   * by plan and install jobs, written only between them */
  struct object_records fresh;
};

/* STATE/guest-key.pem, this guest's own key (created when missing): what a tls:// host sees
 * and may allowlist. */
int guestd_load_guest_key(const char *state_dir, struct sign_key **ret);

int guestd_start(struct guestd *g, uv_loop_t *loop, struct guestd_config *cfg);
void guestd_stop(struct guestd *g);
void guestd_done(struct guestd *g);

#endif

/* The host agent's state: the published generation, guest records, sessions and clients. */
#ifndef GPUPV_HOST_HOSTD_H
#define GPUPV_HOST_HOSTD_H

#include "common/options.h"
#include "common/sign.h"
#include "host-agent/source.h"
#include "net/transport.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#define GPUPV_DEFAULT_PORT 18256
#define HOSTD_MAX_LISTENERS 8
#define HOSTD_MAX_GUESTS 256
#define HOSTD_DEFAULT_MAX_CONNECTIONS 512 /* guest connections, counting those before hello */
#define HOSTD_DEFAULT_HELLO_TIMEOUT_MS 30000

struct hostd_config {
  char *config;
  char *driver_store;
  struct strlist packages;
  char *lib_inbox;
  char *lib_packaged;
  char *wsl_msix;
  char *state_dir;
  struct strlist listen;
  char *control;
  char *name;
  char *log_level;
  char *http;    /* ADDR:PORT of the dashboard and /metrics, or NULL */
  long max_rate; /* bytes per second per session, 0 for no limit */
  long max_connections;
  long hello_timeout_ms;
  long ready_fd;
  int no_auto_push;
  int discover; /* find packages and library folders at every scan (discover.h) */
};

struct push_record {
  int ok;
  char generation[HASH_HEX_LEN + 1];
  uint64_t bytes, bytes_total, files;
  uint64_t wire_bytes; /* everything written to the guest during the push, framing included */
  uint64_t started_ms, finished_ms;
  char error[256];
};

struct session;

struct guest {
  char id[96]; /* transport identity, or "name:<name>" where the transport has none */
  char name[64];
  char transport[128];
  struct session *session; /* NULL while disconnected */
  uint8_t generation[HASH_LEN];
  int has_generation;
  cJSON *report; /* latest status report, owned */
  uint64_t connected_ms, last_seen_ms;
  struct push_record last_push;
  int has_last_push;
  /* counters for /metrics */
  uint64_t pushes_total, push_failures_total, push_bytes_total, push_ms_total;
  /* the generation whose push failed, not retried on its own until something changes */
  uint8_t failed_generation[HASH_LEN];
  int has_failed_generation;
};

typedef void (*hostd_scan_cb)(void *ctx, int err, const char *err_text);

struct scan_waiter {
  hostd_scan_cb cb;
  void *ctx;
  struct scan_waiter *next;
};

struct hostd {
  uv_loop_t *loop;
  struct hostd_config *cfg;
  struct source_config source;
  char cache_path[1024];
  struct generation *gen;              /* published; NULL until the first scan succeeds */
  uint8_t gen_signature[SIGN_SIG_LEN]; /* of gen's id */
  struct sign_key *key;
  char key_hex[2 * SIGN_KEY_LEN + 1];
  uint64_t scanned_ms;
  struct scan_stats last_scan;
  char scan_error[512];
  /* scanning */
  int scanning;
  struct scan_waiter *waiting_current, *waiting_next;
  int stopping;
  /* guests */
  struct guest *guests[HOSTD_MAX_GUESTS];
  size_t nguests;
  struct session *sessions; /* all open sessions, linked */
  size_t nsessions;
  struct control_client *clients;
  /* handles */
  struct listener listeners[HOSTD_MAX_LISTENERS];
  size_t nlisteners;
  struct listener control;
  int control_open;
  uv_signal_t sighup, sigterm, sigint;
  struct http_server *http;
  char http_url[96];
  uv_timer_t snapshot_timer;
  int ready_fd;
};

int hostd_start(struct hostd *h, uv_loop_t *loop, struct hostd_config *cfg);
/* Closes every handle; the loop then runs out. */
void hostd_stop(struct hostd *h);
void hostd_done(struct hostd *h);
/* Rescans the source; cb runs once a scan started after this call has finished. */
void hostd_rescan(struct hostd *h, hostd_scan_cb cb, void *ctx);
/* Finds a guest by name or id; NULL when unknown. */
struct guest *hostd_find_guest(struct hostd *h, const char *name);
/* Finds or creates the record for an identity; NULL when the table is full. */
struct guest *hostd_guest_for(struct hostd *h, const char *id);
int hostd_guest_in_sync(const struct hostd *h, const struct guest *g);
/* Something about g changed: wake control clients waiting on pushes, refresh the snapshot. */
void hostd_guest_changed(struct hostd *h, struct guest *g);
/* Hands the HTTP server a fresh snapshot of the status and metrics. */
void hostd_publish_snapshot(struct hostd *h);
uint64_t hostd_now_ms(void);

/* session.c */
struct session *session_new(struct hostd *h, struct conn *c);
/* Offers the published generation when the guest lacks it and the session is idle.
 * force retries a generation whose last push failed. */
void session_push(struct session *s, int force);
int session_busy(const struct session *s);
void session_progress(const struct session *s, uint64_t *ret_done, uint64_t *ret_total);
void session_close(struct session *s, int reason);
void session_close_all(struct hostd *h);

/* control.c */
struct control_client;
int control_start(struct hostd *h, const char *uri_text);
void control_close_all(struct hostd *h);
void control_guest_changed(struct hostd *h, struct guest *g);

/* status.c: the status document shared by `gpupv status --json` and the dashboard. */
cJSON *status_json(const struct hostd *h);

/* metrics.c: the Prometheus text exposition of the same state; *ret is new (free). */
int metrics_text(const struct hostd *h, char **ret);

#endif

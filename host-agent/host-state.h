/*
 * What the host agent knows, in one struct that the parts showing it read: the configuration,
 * the published generation, the guest registry, the push coordinator and the open sessions.
 * hostd.c owns and changes it; control.c, status.c and metrics.c read it (and control.c asks
 * for scans and pushes through it), so the arrows point one way: hostd -> the rest -> here.
 */
#ifndef GPUPV_HOST_HOST_STATE_H
#define GPUPV_HOST_HOST_STATE_H

#include "common/options.h"
#include "host-agent/guests.h"
#include "host-agent/push.h"
#include "host-agent/session.h"
#include "host-agent/source.h"
#include "host-agent/watch.h"

#include <stdint.h>
#include <uv.h>

#define GPUPV_DEFAULT_PORT 18256
#define HOSTD_MAX_LISTENERS 8
#define HOSTD_DEFAULT_MAX_CONNECTIONS 512 /* guest connections, counting those before hello */
#define HOSTD_DEFAULT_HELLO_TIMEOUT_MS 30000
#define HOSTD_DEFAULT_WRITE_TIMEOUT_MS 120000
#define HOSTD_DEFAULT_DEBOUNCE_MS 2000 /* quiet time of the source before a rescan */
#define HOSTD_DEFAULT_RESCAN_INTERVAL_S 300

struct hostd_config {
  char *config;
  char *driver_store;
  struct strlist packages;
  char *lib_inbox;
  char *lib_packaged;
  char *wsl_msix;
  char *state_dir;
  struct strlist listen;
  char *allow_guest_keys; /* the tls:// guests' key allowlist (guest-keys.h), or NULL */
  char *control;
  char *name;
  char *log_level;
  char *http;    /* ADDR:PORT of the dashboard and /metrics, or NULL */
  long max_rate; /* bytes per second per session, 0 for no limit */
  long max_connections;
  long max_guests; /* records the registry keeps, connected or not */
  long hello_timeout_ms;
  long write_timeout_ms; /* close a guest or client that reads nothing this long */
  long retry_min_ms, retry_max_ms;
  long debounce_ms;       /* watched source quiet this long before a rescan */
  long rescan_interval_s; /* periodic rescan, 0 for none */
  int no_watch;
  struct strlist system_files; /* --system-file PACKAGE/PATH=FOLDER/NAME[:RULE] */
  long ready_fd;
  int no_auto_push;
  int discover; /* find packages and library folders at every scan (discover.h) */
};

typedef void (*host_scan_cb)(void *ctx, int err, const char *err_text);

struct host_state {
  uv_loop_t *loop;
  const struct hostd_config *cfg;
  struct session_offer offer; /* the published generation, signed */
  struct guests guests;
  struct push_coordinator push;
  struct session_list sessions;
  uint64_t scanned_ms;
  struct scan_stats last_scan;
  uint64_t scan_ms; /* how long the last scan took, its settle checks included */
  uint64_t generations_published;
  const struct source_watch *watch; /* the source's folders; NULL under --no-watch */
  char scan_error[512];
  char http_url[96];
  int stopping;
  /* Rescans the source; cb runs once a scan started after this call has finished. */
  void (*rescan)(struct host_state *st, host_scan_cb cb, void *ctx);
  /* A one-time dashboard login URL in url; GPUPV_ENOT_CONNECTED-like errors when the
   * dashboard is off. */
  int (*dashboard_login)(struct host_state *st, char *url, size_t url_size);
};

/* 1 while g has a session that said hello; 1 while that session pushes. */
int host_guest_connected(const struct guest *g);
int host_guest_busy(const struct guest *g);

#endif

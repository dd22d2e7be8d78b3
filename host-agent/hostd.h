/* The host agent's lifecycle: scanning and publishing, listeners, signals and housekeeping. */
#ifndef GPUPV_HOST_HOSTD_H
#define GPUPV_HOST_HOSTD_H

#include "common/sign.h"
#include "host-agent/host-state.h"
#include "net/tls.h"
#include "net/transport.h"

#include <uv.h>

struct scan_waiter {
  host_scan_cb cb;
  void *ctx;
  struct scan_waiter *next;
};

struct control;

struct hostd {
  struct host_state st;
  struct hostd_config *cfg;
  struct source_config source;
  char cache_path[1024];
  struct system_file_spec *system_specs; /* --system-file, parsed */
  struct sign_key *key;
  struct tls_identity *tls; /* the key in a certificate, for tls:// listeners */
  struct session_env env;
  /* scanning */
  int scanning;
  struct scan_waiter *waiting_current, *waiting_next;
  struct source_watch watch;
  struct device_watch *devices; /* Windows: GPU arrivals and the display class key */
  uint64_t unsettled_since_ms;  /* the first scan refused since the source was last read */
  /* handles: the timer and signals exist from the start, the rest once started */
  struct listener listeners[HOSTD_MAX_LISTENERS];
  size_t nlisteners;
  struct control *control;
  uv_signal_t sighup, sigterm, sigint;
  int push_started;
  struct http_server *http;
  uv_timer_t housekeeping; /* snapshots, saving the registry, stalled peers */
  int snapshot_dirty;
  uint64_t saved_ms;
  int ready_fd;
};

/* Starts the agent; on an error (logged) hostd_stop still closes whatever was made. */
int hostd_start(struct hostd *h, uv_loop_t *loop, struct hostd_config *cfg);
/* Closes every handle; the loop then runs out. */
void hostd_stop(struct hostd *h);
void hostd_done(struct hostd *h);

#endif

/*
 * The status document's guest entries and a push's per-guest targets, built and read in one
 * place: the host agent fills a view and builds the JSON (status.c, control.c); the CLI reads
 * the JSON back into the same view (cli-render.c). Keys as in PROTOCOL.md. No I/O.
 */
#ifndef GPUPV_PROTO_STATUS_DOC_H
#define GPUPV_PROTO_STATUS_DOC_H

#include <cjson/cJSON.h>

/* A finished push. Strings may be NULL (JSON null). */
struct status_push_view {
  int ok;
  const char *generation, *started, *finished, *error, *warning;
  double started_unix_ms, bytes, bytes_lacking, wire_bytes, files, duration_ms, bytes_per_second;
};

/* One guest of guests[]. Read views borrow their strings from the JSON they were read from;
 * a missing member reads as NULL, 0 or false. */
struct status_guest_view {
  const char *name, *id, *transport, *generation, *state, *last_seen, *next_retry;
  const char *key; /* the key a tls:// guest proved it holds (hex), or NULL */
  int connected, in_sync;
  const cJSON *gpu; /* the guest's own report (cleaned by the host), or NULL */
  int has_report;
  double report_age_s; /* since the host last had it */
  int report_stale;    /* older than three of the guest's report intervals */
  int has_last_push;
  struct status_push_view last_push;
  int pushing; /* a push in flight: */
  double push_done, push_total;
  int in_conflict; /* two guests claim this identity: */
  const char *conflict_transport, *conflict_last;
  double conflict_refused;
};

/* One guest of a push's progress and result. */
struct status_target_view {
  const char *name, *id, *state, *phase, *error;
  int connected, in_sync, has_last_push;
  double bytes_done, bytes_total, last_push_bytes, last_push_ms;
};

/* The host's summary: its name and what it publishes. */
struct status_host_view {
  const char *name, *key, *dashboard, *generation, *last_scan, *scan_error;
  double packages, libs, files, bytes; /* packages: read back as the count of packages[] */
};

/* The outcome of a push: ok, the generation, the first error; guests[] are targets. */
struct status_result_view {
  int ok;
  const char *generation, *error;
  const cJSON *guests; /* read: borrowed array of targets */
};

/* New JSON objects (NULL when out of memory); gpu is copied. status_doc_host leaves out
 * packages[], scan and source, which the builder adds; status_doc_result takes guests over. */
cJSON *status_doc_host(const struct status_host_view *v);
void status_doc_read_host(const cJSON *o, struct status_host_view *ret);
cJSON *status_doc_result(const struct status_result_view *v, cJSON *guests);
void status_doc_read_result(const cJSON *o, struct status_result_view *ret);
cJSON *status_doc_guest(const struct status_guest_view *v);
cJSON *status_doc_target(const struct status_target_view *v);
void status_doc_read_guest(const cJSON *o, struct status_guest_view *ret);
void status_doc_read_target(const cJSON *o, struct status_target_view *ret);

#endif

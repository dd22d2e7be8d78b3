/*
 * The guest registry: one record per guest identity (the transport's peer id, else
 * "name:<name>"), bounded, persisted atomically in the state folder so that offline guests
 * survive a restart, and observed by whoever shows guests (control clients, the dashboard).
 * Text a guest sent is cleaned here, once, before anything else can see it. Loop thread only.
 */
#ifndef GPUPV_HOST_GUESTS_H
#define GPUPV_HOST_GUESTS_H

#include "common/hash.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define GUESTS_DEFAULT_CAPACITY 4096
#define GUEST_ID_MAX 96
#define GUEST_NAME_MAX 128 /* a 63-byte hello name, cleaned */
#define GUEST_ERROR_MAX 4096
/* A second replacement of a live connection this soon after the first is a conflict. */
#define GUESTS_CONFLICT_WINDOW_MS 60000
/* Status reports a conflict this long after the last one. */
#define GUESTS_CONFLICT_SHOWN_MS 600000

struct push_record {
  int ok;
  char generation[HASH_HEX_LEN + 1];
  uint64_t bytes, bytes_total, files;
  uint64_t wire_bytes; /* everything written to the guest during the push, framing included */
  uint64_t started_ms, finished_ms;
  char error[GUEST_ERROR_MAX]; /* cleaned */
  char warning[GUEST_ERROR_MAX];
};

/* The push coordinator's retry state for a guest (push.c owns it). */
struct guest_retry {
  unsigned failures; /* failed pushes since the last success or new generation */
  uint64_t next_ms;  /* when to try again; 0 when nothing is scheduled */
  uint8_t failed_generation[HASH_LEN];
  int has_failed_generation;
  /* a push was asked for while the guest could not take one (away, or busy): it starts as
   * soon as the guest is ready, retry time or not */
  int requested, requested_force;
};

struct session;

struct guest {
  char id[GUEST_ID_MAX];
  char name[GUEST_NAME_MAX];
  char transport[128];
  uint8_t key[32]; /* the key a tls:// guest proved it holds */
  int has_key;
  struct session *session; /* NULL while disconnected; never dereferenced here */
  uint8_t generation[HASH_LEN];
  int has_generation;
  int system_files;   /* it places system files (a hello cap): it gets the full form */
  cJSON *report;      /* latest status report, cleaned, owned */
  uint64_t report_ms; /* when it came */
  uint64_t connected_ms, last_seen_ms;
  struct push_record last_push;
  int has_last_push;
  /* counters for /metrics */
  uint64_t pushes_total, push_failures_total, push_bytes_total, push_ms_total;
  struct guest_retry retry;
  /* the guest rolled back and asks to be left there (until a forced push or --unpin) */
  int pinned;
  uint8_t pinned_generation[HASH_LEN];
  /* identity conflicts: two live connections claiming this identity */
  uint64_t replaced_ms, conflict_ms;
  uint64_t conflicts;
  char conflict_transport[128];
};

enum guests_change {
  GUESTS_TRANSIENT, /* progress: shown, not saved */
  GUESTS_DURABLE,   /* worth saving: connected, pushed, reported, gone */
  GUESTS_EVICTED    /* the record is about to be freed: drop every pointer to it */
};

typedef void (*guests_observer_cb)(void *ctx, struct guest *g, enum guests_change kind);

struct guests_observer {
  guests_observer_cb cb;
  void *ctx;
};

#define GUESTS_MAX_OBSERVERS 4

struct guests {
  struct guest **items;
  size_t n, capacity;
  char *path; /* where records are saved, or NULL */
  int dirty;
  struct guests_observer observers[GUESTS_MAX_OBSERVERS];
  size_t nobservers;
  uint64_t evicted_total;
};

/* Wall-clock milliseconds since 1970: the registry's times outlive the process. */
uint64_t guests_now_ms(void);

/* capacity records at most; path (may be NULL) is the file the records persist in. */
int guests_init(struct guests *r, size_t capacity, const char *path);
void guests_done(struct guests *r);
/* Loads the saved records (all offline). A missing file is fine; a bad one is an error with
 * one line in err, and the registry stays empty. */
int guests_load(struct guests *r, char *err, size_t err_size);
/* Saves every record through a temporary file; clears dirty on success. */
int guests_save(struct guests *r);
void guests_observe(struct guests *r, guests_observer_cb cb, void *ctx);
void guests_unobserve(struct guests *r, guests_observer_cb cb, void *ctx);

/* Finds a record by id, else by name (of several with that name: the connected one, else the
 * one seen last); NULL when unknown. */
struct guest *guests_find(const struct guests *r, const char *name_or_id);
/*
 * The record for id, made when new. When the registry is full, the record offline the longest
 * is evicted; NULL only when every record is connected.
 */
struct guest *guests_claim(struct guests *r, const char *id);
/*
 * Decides whether a new connection may take over a record that has a live session: 1 to
 * replace it, 0 when this is the second take-over within GUESTS_CONFLICT_WINDOW_MS (two
 * guests claim one identity); the conflict is recorded with the newcomer's transport.
 */
int guests_may_replace(struct guest *g, const char *new_transport, uint64_t now_ms);
/* 1 while a recent identity conflict should be shown. */
int guests_in_conflict(const struct guest *g, uint64_t now_ms);

/* Setters for what a guest sent; each cleans the text it is given. */
void guests_set_name(struct guest *g, const char *raw_name);
void guests_set_report(struct guest *g, const cJSON *raw_report);
/* Cleans raw (may be NULL) into out of GUEST_ERROR_MAX bytes. */
void guests_clean_error(const char *raw, char *out);

/* Something about g changed: tells the observers and, when durable, marks the registry for
 * saving. */
void guests_changed(struct guests *r, struct guest *g, enum guests_change kind);

#endif

/*
 * The push coordinator: the one place that decides when a guest is pushed. A guest is pushed
 * on connect, when a new generation is published, when someone asks, and again after a failed
 * push, on its own, with jittered exponential backoff. push_decide holds the rules as a pure
 * function; the coordinator applies them to the registry's records.
 */
#ifndef GPUPV_HOST_PUSH_H
#define GPUPV_HOST_PUSH_H

#include "host-agent/guests.h"

#include <stdint.h>
#include <uv.h>

#define PUSH_RETRY_MIN_MS 5000
#define PUSH_RETRY_MAX_MS 300000

enum push_reason {
  PUSH_ON_CONNECT,    /* the guest said hello */
  PUSH_ON_GENERATION, /* the host published a new generation, or a push ended stale */
  PUSH_ON_REQUEST,    /* gpupv push, the dashboard: forced */
  PUSH_ON_RETRY       /* the retry timer */
};

/* What the rules look at, for one guest at one moment. */
struct push_facts {
  int published;             /* the host has a generation */
  int connected;             /* the guest has a session after hello */
  int busy;                  /* a push is in flight */
  int in_sync;               /* the guest has the published generation */
  int auto_push;             /* not --no-auto-push */
  int failed;                /* the last push of the published generation failed */
  int pinned;                /* the guest rolled back and asked to stay there */
  int force;                 /* the request says --force */
  uint64_t now_ms, retry_ms; /* retry_ms: when a failed push may run again (0: any time) */
};

enum push_verdict {
  PUSH_NO,   /* nothing to do */
  PUSH_NOW,  /* offer the generation now */
  PUSH_LATER /* a failed push waits for its retry time */
};

enum push_verdict push_decide(enum push_reason why, const struct push_facts *f);
/* The delay before retry number failures (1, 2, ...): min doubling up to max, each scaled by
 * a jitter factor from 0.75 to 1.25 drawn from random. */
uint64_t push_backoff_ms(unsigned failures, uint64_t min_ms, uint64_t max_ms, uint32_t random);

struct push_ops {
  /* Starts a push on g's session; 0 or an error (the session is then closed). */
  int (*start)(void *ctx, struct guest *g);
  /* 1 while g's session exists and has said hello; 1 while a push is in flight. */
  int (*connected)(void *ctx, const struct guest *g);
  int (*busy)(void *ctx, const struct guest *g);
};

struct push_coordinator {
  uv_loop_t *loop;
  uv_timer_t timer; /* the earliest retry */
  struct guests *guests;
  const struct push_ops *ops;
  void *ctx;
  uint8_t gen_id[HASH_LEN];   /* the published generation */
  uint8_t plain_id[HASH_LEN]; /* its plain form, for guests without system files */
  int published, auto_push;
  uint64_t retry_min_ms, retry_max_ms;
};

void push_init(struct push_coordinator *pc, uv_loop_t *loop, struct guests *guests,
               const struct push_ops *ops, void *ctx, int auto_push, uint64_t retry_min_ms,
               uint64_t retry_max_ms);
void push_close(struct push_coordinator *pc);
/* 1 when g has the published generation, in the form it is offered (source.h). */
int push_in_sync(const struct push_coordinator *pc, const struct guest *g);
/* The id of the published generation in the form g is offered. */
const uint8_t *push_expected_id(const struct push_coordinator *pc, const struct guest *g);
/* The events the rules answer. */
void push_on_connect(struct push_coordinator *pc, struct guest *g);
void push_on_generation(struct push_coordinator *pc, const uint8_t id[HASH_LEN],
                        const uint8_t plain_id[HASH_LEN]);
/* A push someone asked for (gpupv push, the dashboard): pushed now unless pinned and not
 * forced. 0, or GPUPV_ENOT_CONNECTED. */
int push_on_request(struct push_coordinator *pc, struct guest *g, int force);
/* A push ended: ok, and which generation it was of. */
void push_on_finished(struct push_coordinator *pc, struct guest *g, int ok,
                      const char *generation_hex);

#endif

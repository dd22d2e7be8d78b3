#include "host-agent/push.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

enum push_verdict push_decide(enum push_reason why, const struct push_facts *f) {
  if (!f->published || !f->connected || f->busy)
    return PUSH_NO;
  /* a pinned guest is left alone unless someone forces it */
  if (f->pinned)
    return why == PUSH_ON_REQUEST && f->force ? PUSH_NOW : PUSH_NO;
  /* asked for, a guest in sync is pushed too: it checks its copy against its records, and
   * puts back what changed; nothing else wakes a guest that says it is in sync */
  if (why == PUSH_ON_REQUEST)
    return PUSH_NOW;
  if (f->in_sync)
    return PUSH_NO;
  if (!f->auto_push)
    return PUSH_NO;
  /* a failed generation waits for its retry time, whatever woke us */
  if (f->failed && f->retry_ms && f->now_ms < f->retry_ms)
    return PUSH_LATER;
  return PUSH_NOW;
}

uint64_t push_backoff_ms(unsigned failures, uint64_t min_ms, uint64_t max_ms, uint32_t random) {
  uint64_t d = min_ms;
  for (unsigned i = 1; i < failures && d < max_ms; i++)
    d *= 2;
  if (d > max_ms)
    d = max_ms;
  /* 0.75 d to 1.25 d */
  return d - d / 4 + (d / 2 ? random % (d / 2 + 1) : 0);
}

static void on_retry_timer(uv_timer_t *t);

void push_init(struct push_coordinator *pc, uv_loop_t *loop, struct guests *guests,
               const struct push_ops *ops, void *ctx, int auto_push, uint64_t retry_min_ms,
               uint64_t retry_max_ms) {
  memset(pc, 0, sizeof *pc);
  pc->loop = loop;
  pc->guests = guests;
  pc->ops = ops;
  pc->ctx = ctx;
  pc->auto_push = auto_push;
  pc->retry_min_ms = retry_min_ms ? retry_min_ms : PUSH_RETRY_MIN_MS;
  pc->retry_max_ms = retry_max_ms >= pc->retry_min_ms ? retry_max_ms : pc->retry_min_ms;
  uv_timer_init(loop, &pc->timer);
  pc->timer.data = pc;
}

void push_close(struct push_coordinator *pc) {
  if (!uv_is_closing((uv_handle_t *)&pc->timer))
    uv_close((uv_handle_t *)&pc->timer, NULL);
}

const uint8_t *push_expected_id(const struct push_coordinator *pc, const struct guest *g) {
  return g->system_files ? pc->gen_id : pc->plain_id;
}

int push_in_sync(const struct push_coordinator *pc, const struct guest *g) {
  return pc->published && g->has_generation &&
         memcmp(g->generation, push_expected_id(pc, g), HASH_LEN) == 0;
}

static struct push_facts facts(const struct push_coordinator *pc, const struct guest *g) {
  const struct guest_retry *r = &g->retry;
  int connected = pc->ops->connected(pc->ctx, g);
  return (struct push_facts){
      .published = pc->published,
      .connected = connected,
      .busy = connected && pc->ops->busy(pc->ctx, g),
      .in_sync = push_in_sync(pc, g),
      .auto_push = pc->auto_push,
      .failed = r->has_failed_generation && memcmp(r->failed_generation, pc->gen_id, HASH_LEN) == 0,
      .now_ms = guests_now_ms(),
      .retry_ms = r->next_ms,
      .pinned = g->pinned,
  };
}

/* Arms the timer for the earliest retry still due. */
static void rearm(struct push_coordinator *pc) {
  uint64_t now = guests_now_ms(), next = 0;
  for (size_t i = 0; i < pc->guests->n; i++) {
    const struct guest *g = pc->guests->items[i];
    if (g->retry.next_ms && (!next || g->retry.next_ms < next))
      next = g->retry.next_ms;
  }
  if (!next || uv_is_closing((uv_handle_t *)&pc->timer)) {
    uv_timer_stop(&pc->timer);
    return;
  }
  uv_timer_start(&pc->timer, on_retry_timer, next > now ? next - now : 0, 0);
}

static void apply_forced(struct push_coordinator *pc, struct guest *g, enum push_reason why,
                         int force) {
  struct push_facts f = facts(pc, g);
  f.force = force;
  if (push_decide(why, &f) == PUSH_NOW && pc->ops->start(pc->ctx, g) == 0)
    g->retry.requested = g->retry.requested_force = 0;
}

static void apply(struct push_coordinator *pc, struct guest *g, enum push_reason why) {
  apply_forced(pc, g, why, 0);
}

static void on_retry_timer(uv_timer_t *t) {
  struct push_coordinator *pc = t->data;
  uint64_t now = guests_now_ms();
  for (size_t i = 0; i < pc->guests->n; i++) {
    struct guest *g = pc->guests->items[i];
    if (!g->retry.next_ms || g->retry.next_ms > now)
      continue;
    g->retry.next_ms = 0; /* due: the next failure schedules the one after */
    apply(pc, g, PUSH_ON_RETRY);
  }
  rearm(pc);
}

void push_on_connect(struct push_coordinator *pc, struct guest *g) {
  if (g->retry.requested)
    apply_forced(pc, g, PUSH_ON_REQUEST, g->retry.requested_force);
  else
    apply(pc, g, PUSH_ON_CONNECT);
}

void push_on_generation(struct push_coordinator *pc, const uint8_t id[HASH_LEN],
                        const uint8_t plain_id[HASH_LEN]) {
  memcpy(pc->gen_id, id, HASH_LEN);
  memcpy(pc->plain_id, plain_id, HASH_LEN);
  pc->published = 1;
  for (size_t i = 0; i < pc->guests->n; i++) {
    struct guest *g = pc->guests->items[i];
    memset(&g->retry, 0, sizeof g->retry); /* a new generation gets a fresh try */
    apply(pc, g, PUSH_ON_GENERATION);
  }
  rearm(pc);
}

int push_on_request(struct push_coordinator *pc, struct guest *g, int force) {
  g->retry.requested = 1; /* kept until a push starts: a guest reconnecting gets it at once */
  g->retry.requested_force = force;
  if (!pc->ops->connected(pc->ctx, g))
    return GPUPV_ENOT_CONNECTED;
  apply_forced(pc, g, PUSH_ON_REQUEST, force);
  return 0;
}

void push_on_finished(struct push_coordinator *pc, struct guest *g, int ok,
                      const char *generation_hex) {
  struct guest_retry *r = &g->retry;
  char current[HASH_HEX_LEN + 1];
  hash_to_hex(pc->gen_id, current);
  int stale = !pc->published || strcmp(generation_hex, current) != 0;
  if (ok || stale) {
    /* success, or a push of a generation already replaced: the new one gets a fresh try */
    memset(r, 0, sizeof *r);
  } else {
    r->failures++;
    memcpy(r->failed_generation, pc->gen_id, HASH_LEN);
    r->has_failed_generation = 1;
    uint64_t delay =
        push_backoff_ms(r->failures, pc->retry_min_ms, pc->retry_max_ms, (uint32_t)rand());
    r->next_ms = guests_now_ms() + delay;
    log_info("guest \"%s\": push failed %u time%s; retrying in %.1f s", g->name, r->failures,
             r->failures == 1 ? "" : "s", (double)delay / 1000.0);
  }
  apply(pc, g, PUSH_ON_GENERATION);
  rearm(pc);
}

/* The push coordinator's rules, as the pure function that holds them, and its backoff. */
#include "host-agent/push.h"
#include "tests/support/test.h"

static struct push_facts ready(void) {
  return (struct push_facts){.published = 1, .connected = 1, .auto_push = 1, .now_ms = 1000};
}

TEST(unit_push_decide_rules) {
  static const enum push_reason reasons[] = {PUSH_ON_CONNECT, PUSH_ON_GENERATION, PUSH_ON_REQUEST,
                                             PUSH_ON_RETRY};
  for (int i = 0; i < 4; i++) {
    enum push_reason why = reasons[i];
    struct push_facts f = ready();
    CHECK_EQ_INT(push_decide(why, &f), PUSH_NOW);
    /* nothing to push, nobody to push to, one push at a time, nothing missing */
    f = ready(), f.published = 0;
    CHECK_EQ_INT(push_decide(why, &f), PUSH_NO);
    f = ready(), f.connected = 0;
    CHECK_EQ_INT(push_decide(why, &f), PUSH_NO);
    f = ready(), f.busy = 1;
    CHECK_EQ_INT(push_decide(why, &f), PUSH_NO);
    /* a guest in sync is pushed only on request, to check its copy */
    f = ready(), f.in_sync = 1;
    CHECK_EQ_INT(push_decide(why, &f), why == PUSH_ON_REQUEST ? PUSH_NOW : PUSH_NO);
    /* --no-auto-push leaves only requests */
    f = ready(), f.auto_push = 0;
    CHECK_EQ_INT(push_decide(why, &f), why == PUSH_ON_REQUEST ? PUSH_NOW : PUSH_NO);
    /* a failed generation waits for its retry time, unless someone asks */
    f = ready(), f.failed = 1, f.retry_ms = 5000;
    CHECK_EQ_INT(push_decide(why, &f), why == PUSH_ON_REQUEST ? PUSH_NOW : PUSH_LATER);
    f.now_ms = 5000;
    CHECK_EQ_INT(push_decide(why, &f), PUSH_NOW);
    /* a rollback pinned the guest: only a forced request moves it */
    f = ready(), f.pinned = 1;
    CHECK_EQ_INT(push_decide(why, &f), PUSH_NO);
    f.force = 1;
    CHECK_EQ_INT(push_decide(why, &f), why == PUSH_ON_REQUEST ? PUSH_NOW : PUSH_NO);
  }
}

TEST(unit_push_backoff_doubles_with_jitter_up_to_the_cap) {
  uint64_t lo = push_backoff_ms(1, 5000, 300000, 0);
  uint64_t hi = push_backoff_ms(1, 5000, 300000, 0xffffffffu);
  CHECK(lo >= 3750 && hi <= 6250 && lo < hi);
  for (unsigned n = 1; n < 40; n++) {
    uint64_t nominal = 5000;
    for (unsigned i = 1; i < n && nominal < 300000; i++)
      nominal *= 2;
    if (nominal > 300000)
      nominal = 300000;
    for (uint32_t r = 0; r < 1000; r += 97) {
      uint64_t d = push_backoff_ms(n, 5000, 300000, r * 4409u);
      CHECK_MSG(d >= nominal - nominal / 4 && d <= nominal + nominal / 4,
                "retry %u: %llu ms is not within 25%% of %llu", n, (unsigned long long)d,
                (unsigned long long)nominal);
    }
  }
}

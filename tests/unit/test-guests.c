/* The guest registry: bounded with eviction, persisted, conflicts, cleaned text. */
#include "common/peer-text.h"
#include "host-agent/guests.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>

static int evictions;

static void count_evictions(void *ctx, struct guest *g, enum guests_change kind) {
  (void)ctx, (void)g;
  evictions += kind == GUESTS_EVICTED;
}

TEST(unit_guests_evict_the_longest_offline) {
  struct guests r;
  CHECK(guests_init(&r, 3, NULL) == 0);
  guests_observe(&r, count_evictions, NULL);
  struct session *live = (struct session *)&r; /* any non-NULL pointer: "connected" */
  struct guest *a = guests_claim(&r, "name:a"), *b = guests_claim(&r, "name:b");
  struct guest *c = guests_claim(&r, "name:c");
  a->last_seen_ms = 300, b->last_seen_ms = 100, c->last_seen_ms = 200;
  a->session = live;
  CHECK(guests_claim(&r, "name:a") == a); /* the same identity, the same record */
  CHECK(guests_claim(&r, "name:d"));
  CHECK_EQ_INT(r.n, 3);
  CHECK_EQ_INT(evictions, 1);
  CHECK(!guests_find(&r, "name:b")); /* offline the longest */
  CHECK(guests_find(&r, "name:a") && guests_find(&r, "name:c"));
  /* a connected record is never evicted: with all connected, the newcomer gets none */
  for (size_t i = 0; i < r.n; i++)
    r.items[i]->session = live;
  CHECK(!guests_claim(&r, "name:e"));
  guests_done(&r);
}

TEST(unit_guests_survive_a_restart) {
  const char *path = test_path("guests.json");
  struct guests r;
  CHECK(guests_init(&r, 10, path) == 0);
  struct guest *g = guests_claim(&r, "vsock:7");
  guests_set_name(g, "vm7");
  g->has_generation = 1;
  memset(g->generation, 0xab, HASH_LEN);
  g->last_seen_ms = 123456;
  g->has_last_push = 1;
  g->last_push.ok = 0;
  snprintf(g->last_push.generation, sizeof g->last_push.generation, "%064d", 7);
  snprintf(g->last_push.error, sizeof g->last_push.error, "no space left on device");
  cJSON *report = cJSON_Parse("{\"kernel\":\"6.1\",\"dxg\":true}");
  guests_set_report(g, report);
  cJSON_Delete(report);
  CHECK(guests_save(&r) == 0);
  guests_done(&r);

  char err[512];
  CHECK(guests_init(&r, 10, path) == 0);
  CHECK_MSG(guests_load(&r, err, sizeof err) == 0, "%s", err);
  g = guests_find(&r, "vm7");
  CHECK(g && !g->session);
  CHECK_EQ_STR(g->id, "vsock:7");
  CHECK(g->has_generation && g->generation[0] == 0xab);
  CHECK_EQ_INT(g->last_seen_ms, 123456);
  CHECK(g->has_last_push && !g->last_push.ok);
  CHECK_EQ_STR(g->last_push.error, "no space left on device");
  CHECK_EQ_STR(cJSON_GetObjectItem(g->report, "kernel")->valuestring, "6.1");
  guests_done(&r);

  /* a broken file is an error, and the registry stays empty */
  FILE *f = fopen(path, "w");
  fputs("{\"version\":1,\"guests\":[{\"id\":\"\\u001b[2J\"}]}", f);
  fclose(f);
  CHECK(guests_init(&r, 10, path) == 0);
  CHECK(guests_load(&r, err, sizeof err) != 0);
  CHECK_EQ_INT(r.n, 0);
  guests_done(&r);
}

TEST(unit_guests_second_take_over_is_a_conflict) {
  struct guest g = {0};
  CHECK_EQ_INT(guests_may_replace(&g, "unix", 1000), 1); /* a guest that reconnected */
  CHECK_EQ_INT(guests_may_replace(&g, "unix", 2000), 0); /* and again: two guests */
  CHECK(guests_in_conflict(&g, 2000));
  CHECK_EQ_INT(g.conflicts, 1);
  /* long after, a take-over is a reconnect again */
  CHECK_EQ_INT(guests_may_replace(&g, "unix", 1000 + GUESTS_CONFLICT_WINDOW_MS + 1), 1);
  CHECK(!guests_in_conflict(&g, 2000 + GUESTS_CONFLICT_SHOWN_MS));
}

TEST(unit_guests_clean_what_guests_send) {
  struct guest g = {0};
  guests_set_name(&g, "vm\033[2J\n\xff");
  CHECK(peer_text_is_clean(g.name));
  CHECK(strncmp(g.name, "vm", 2) == 0);
  cJSON *report = cJSON_CreateObject();
  cJSON_AddStringToObject(report, "os\033", "Linux\r\nFORGED");
  guests_set_report(&g, report);
  cJSON_Delete(report);
  const cJSON *os = g.report->child;
  CHECK(peer_text_is_clean(os->string) && peer_text_is_clean(os->valuestring));
  cJSON_Delete(g.report);
}

/* A guest reinstalled with a new key (or a VM given a new CID) is a new record with the old
 * name: by name, the connected record is found, else the one seen last. */
TEST(unit_guests_find_by_name_prefers_the_live_record) {
  struct guests r;
  CHECK(guests_init(&r, 10, NULL) == 0);
  struct session *live = (struct session *)&r;
  struct guest *old = guests_claim(&r, "key:old"), *new = guests_claim(&r, "key:new");
  guests_set_name(old, "vm1");
  guests_set_name(new, "vm1");
  old->last_seen_ms = 200, new->last_seen_ms = 100;
  CHECK(guests_find(&r, "vm1") == old); /* both offline: the one seen last */
  new->session = live;
  CHECK(guests_find(&r, "vm1") == new);     /* the connected one */
  CHECK(guests_find(&r, "key:old") == old); /* an id is exact */
  new->session = NULL;
  guests_done(&r);
}

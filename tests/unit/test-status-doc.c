/* The status document's guest entries and push targets read back as they were built. */
#include "proto/status-doc.h"
#include "tests/support/test.h"

TEST(unit_status_doc_round_trip) {
  cJSON *gpu = cJSON_Parse("{\"healthy\":true,\"kernel\":\"6.1\"}");
  struct status_guest_view v = {.name = "vm1",
                                .id = "vsock:3",
                                .transport = "vsock:3:18256",
                                .generation = "ab12",
                                .state = "error",
                                .last_seen = "2026-12-01T00:00:00Z",
                                .next_retry = "2026-12-01T00:05:00Z",
                                .connected = 1,
                                .gpu = gpu,
                                .has_last_push = 1,
                                .last_push = {.ok = 0,
                                              .generation = "ab12",
                                              .error = "no space left",
                                              .bytes = 42,
                                              .duration_ms = 1500},
                                .pushing = 1,
                                .push_done = 10,
                                .push_total = 20,
                                .in_conflict = 1,
                                .conflict_transport = "unix",
                                .conflict_refused = 3};
  cJSON *o = status_doc_guest(&v);
  struct status_guest_view r;
  status_doc_read_guest(o, &r);
  CHECK_EQ_STR(r.name, "vm1");
  CHECK_EQ_STR(r.id, "vsock:3");
  CHECK_EQ_STR(r.generation, "ab12");
  CHECK_EQ_STR(r.state, "error");
  CHECK_EQ_STR(r.next_retry, "2026-12-01T00:05:00Z");
  CHECK(r.connected && !r.in_sync && r.has_last_push && !r.last_push.ok);
  CHECK_EQ_STR(r.last_push.error, "no space left");
  CHECK(r.last_push.warning == NULL);
  CHECK_EQ_INT(r.last_push.bytes, 42);
  CHECK(r.pushing && r.push_done == 10 && r.push_total == 20);
  CHECK(r.in_conflict && r.conflict_refused == 3);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r.gpu, "healthy")));
  cJSON_Delete(o);
  cJSON_Delete(gpu);

  /* a guest that never connected: nulls read as absent */
  struct status_guest_view empty = {
      .name = "new", .id = "name:new", .transport = "", .state = "stale"};
  o = status_doc_guest(&empty);
  status_doc_read_guest(o, &r);
  CHECK(!r.generation && !r.gpu && !r.has_last_push && !r.pushing && !r.in_conflict);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "last_push")));
  cJSON_Delete(o);

  struct status_target_view t = {.name = "vm1",
                                 .id = "vsock:3",
                                 .state = "installing",
                                 .phase = "sending",
                                 .connected = 1,
                                 .bytes_done = 5,
                                 .bytes_total = 9};
  o = status_doc_target(&t);
  struct status_target_view rt;
  status_doc_read_target(o, &rt);
  CHECK_EQ_STR(rt.phase, "sending");
  CHECK(rt.connected && rt.bytes_done == 5 && rt.bytes_total == 9 && !rt.has_last_push);
  CHECK(rt.error == NULL);
  cJSON_Delete(o);

  /* the host's summary and a push's result */
  struct status_host_view h = {
      .name = "host1", .key = "k", .generation = "ab12", .libs = 7, .files = 9, .bytes = 1024};
  o = status_doc_host(&h);
  cJSON_AddItemToObject(o, "packages", cJSON_Parse("[{\"name\":\"p1\"},{\"name\":\"p2\"}]"));
  struct status_host_view rh;
  status_doc_read_host(o, &rh);
  CHECK_EQ_STR(rh.name, "host1");
  CHECK(!rh.dashboard && !rh.scan_error && rh.packages == 2 && rh.libs == 7 && rh.bytes == 1024);
  cJSON_Delete(o);
  struct status_result_view res = {.ok = 0, .generation = "ab12", .error = "vm1: timed out"};
  o = status_doc_result(&res, cJSON_CreateArray());
  struct status_result_view rr;
  status_doc_read_result(o, &rr);
  CHECK(!rr.ok && rr.guests && cJSON_GetArraySize(rr.guests) == 0);
  CHECK_EQ_STR(rr.error, "vm1: timed out");
  cJSON_Delete(o);
}

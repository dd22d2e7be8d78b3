/*
 * 1,000 guests at once on one host: every one is listed by `gpupv status --json` (the status
 * travels as data frames, past the 64 KiB control-frame limit), /metrics passes promtool with
 * no series twice, the dashboard renders them all, and the host's memory stays bounded.
 * The time of `gpupv status` and the host's RSS are measured in bench/many-guests.sh.
 */
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/swarm.h"
#include "tests/support/test.h"
#include "tests/support/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUESTS 1000

TEST(e2e_thousand_guests) {
  const char *src = test_path("src");
  struct fixture_spec spec = {
      .seed = 21, .packages = 2, .files_per_package = 20, .small_max = 4000};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host;
  char *extra[] = {"--http", "127.0.0.1:0", "--max-connections", "1100", NULL};
  agents_start_host(&host, src, NULL, extra);
  char *gen = agents_host_generation();
  struct swarm swarm;
  CHECK(swarm_open(&swarm, test_path("guests.sock"), GUESTS, "vm", gen) == 0);

  cJSON *status = agents_status();
  const cJSON *guests = cJSON_GetObjectItem(status, "guests");
  CHECK_EQ_INT(cJSON_GetArraySize(guests), GUESTS);
  int connected = 0, in_sync = 0;
  const cJSON *g;
  cJSON_ArrayForEach(g, guests) {
    connected += cJSON_IsTrue(cJSON_GetObjectItem(g, "connected"));
    in_sync += cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync"));
  }
  CHECK_EQ_INT(connected, GUESTS);
  CHECK_EQ_INT(in_sync, GUESTS);
  char url[128];
  snprintf(url, sizeof url, "%s",
           cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "dashboard")->valuestring);
  cJSON_Delete(status);

  int port = 0;
  CHECK(sscanf(url, "http://127.0.0.1:%d/", &port) == 1);
  struct buf body;
  CHECK_EQ_INT(web_get(port, "/metrics", &body), 200);
  CHECK(strstr((char *)body.data, "guest_id=\"name:vm-0999\",guest=\"vm-0999\""));
  web_check_metrics(&body);
  buf_done(&body);

  char script[1024], want[16];
  snprintf(script, sizeof script, "%s/../browser/rows.mjs", test_data_dir());
  snprintf(want, sizeof want, "%d", GUESTS);
  char *argv[] = {"/usr/bin/env", "node", script, url, want, NULL};
  struct buf out, err;
  int rc = agents_run(argv, &out, &err);
  CHECK_MSG(rc == 0, "the dashboard did not render %d guests (%d):\n%s%s", GUESTS, rc,
            out.data ? (char *)out.data : "", err.data ? (char *)err.data : "");
  buf_done(&out);
  buf_done(&err);

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  /* (sanitizers keep freed memory and shadow maps: their figure says nothing) */
  long rss = proc_status_kb(host.pid, "VmRSS");
  CHECK_MSG(rss > 0 && rss <= 64 * 1024, "the host holds %ld KiB with %d guests", rss, GUESTS);
#endif
  swarm_close(&swarm);
  free(gen);
  proc_stop(&host);
}

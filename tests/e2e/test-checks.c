/* The guest's GPU checks reach the host between pushes, and say what to fix. */
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"
#include "tests/support/web.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct fixture_spec spec = {
    .seed = 41, .packages = 1, .files_per_package = 6, .small_max = 2000};

/* The level of a guest's check in the host's status, or NULL. */
static char *level_of(const char *guest, const char *id) {
  cJSON *status = agents_status();
  const cJSON *gpu = cJSON_GetObjectItem(agents_guest(status, guest), "gpu"), *c;
  char *level = NULL;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(gpu, "checks")) {
    if (strcmp(cJSON_GetObjectItem(c, "id")->valuestring, id) == 0)
      level = strdup(cJSON_GetObjectItem(c, "level")->valuestring);
  }
  cJSON_Delete(status);
  return level;
}

/* Asks the host until guest's check id has level, for at most limit_ms. */
static int wait_level(const char *guest, const char *id, const char *want, int limit_ms) {
  for (int waited = 0; waited <= limit_ms; waited += 50) {
    char *level = level_of(guest, id);
    int same = level && strcmp(level, want) == 0;
    free(level);
    if (same)
      return 1;
    struct pollfd none;
    poll(&none, 0, 50); /* between two looks at the host's state, not a synchronisation */
  }
  return 0;
}

TEST(e2e_checks_are_reported_between_pushes) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *host_extra[] = {"--http", "127.0.0.1:0", NULL};
  agents_start_host(&host, src, NULL, host_extra);
  char *extra[] = {"--report-interval", "1", NULL};
  agents_start_guest_with(&guest, "g1", root, extra);
  agents_push_ok("g1");
  CHECK_MSG(wait_level("g1", "vmbus_gpu", "fail", 5000), "no failing vmbus_gpu check");
  cJSON *before = agents_status();
  const cJSON *g = agents_guest(before, "g1");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "gpu"), "healthy")));
  double pushed = agents_num(g, "last_push.started_unix_ms");
  /* the host assigns the GPU: the VMBus device appears; nobody pushes */
  char dir[1200], path[1300];
  snprintf(dir, sizeof dir, "%s/sys/bus/vmbus/devices/5f0a", root);
  CHECK(fs_mkdir_p(dir, 0755) == 0);
  snprintf(path, sizeof path, "%s/class_id", dir);
  const char *id = "{dde9cbc0-5060-4436-9448-ea1254a5d177}\n";
  CHECK(fs_write_atomic(path, id, strlen(id), 0644) == 0);
  /* one interval (1 s) plus the probe period and a look: well within 5 s */
  CHECK_MSG(wait_level("g1", "vmbus_gpu", "ok", 5000), "the change was never reported");
  cJSON *after = agents_status();
  g = agents_guest(after, "g1");
  CHECK_EQ_INT(agents_num(g, "last_push.started_unix_ms"), pushed); /* no push brought it */
  CHECK(agents_num(g, "report_age_s") < 3);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(g, "report_stale")));
  CHECK_EQ_INT(agents_num(g, "gpu.report_interval_s"), 1);
  /* /metrics says the same, a sample per check: 0 ok, 2 fail */
  struct buf body;
  buf_init(&body);
  CHECK_EQ_INT(web_get(agents_dashboard_port(), "/metrics", &body), 200);
  web_check_metrics(&body);
  CHECK_MSG(strstr((char *)body.data,
                   "gpupv_guest_check{guest_id=\"name:g1\",guest=\"g1\",check=\"vmbus_gpu\"} 0") &&
                strstr((char *)body.data,
                       "gpupv_guest_check{guest_id=\"name:g1\",guest=\"g1\",check=\"dev_dxg\"} 2"),
            "metrics:\n%s", (char *)body.data);
  buf_done(&body);
  cJSON_Delete(before);
  cJSON_Delete(after);
  /* a guest that stops reporting is marked stale after three intervals */
  proc_kill(&guest);
  int stale = 0;
  for (int waited = 0; waited < 8000 && !stale; waited += 100) {
    cJSON *s = agents_status();
    stale = cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(s, "g1"), "report_stale"));
    cJSON_Delete(s);
    struct pollfd none;
    poll(&none, 0, 100);
  }
  CHECK_MSG(stale, "a report 3 intervals old is not marked stale");
  proc_stop(&host);
}

/* The detail of a guest's check, new, or NULL. */
static char *detail_of(const char *guest, const char *id) {
  cJSON *status = agents_status();
  const cJSON *gpu = cJSON_GetObjectItem(agents_guest(status, guest), "gpu"), *c;
  char *detail = NULL;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(gpu, "checks")) {
    if (strcmp(cJSON_GetObjectItem(c, "id")->valuestring, id) == 0)
      detail = strdup(cJSON_GetObjectItem(c, "detail")->valuestring);
  }
  cJSON_Delete(status);
  return detail;
}

/* Starts g1 with the fake libdxcore scripted so, and waits for its adapters check's level. */
static void expect_adapters(struct proc *guest, const char *root, const char *script,
                            const char *level, const char *words) {
  setenv("GPUPV_FAKE_DXCORE", script, 1);
  agents_start_guest(guest, "g1", root);
  unsetenv("GPUPV_FAKE_DXCORE");
  CHECK_MSG(wait_level("g1", "adapters", level, 10000), "%s: the adapters check is not %s", script,
            level);
  char *detail = detail_of("g1", "adapters");
  CHECK_MSG(detail && strstr(detail, words), "%s: the detail \"%s\" does not say \"%s\"", script,
            detail ? detail : "(none)", words);
  free(detail);
  proc_stop(guest);
}

/* A libdxcore.so with scripted answers, published like the real one, loaded by the real
 * guest from its installed lib/ folder: each answer gives the right check. */
TEST(e2e_adapters_check_names_the_package_the_host_expects) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  char lib[1200];
  snprintf(lib, sizeof lib, "%s/packaged/libdxcore.so", src);
  fs_unlink(lib);
  CHECK(fs_copy_file(GPUPV_FAKE_DXCORE, lib, 0755) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  proc_stop(&guest);
  cJSON *status = agents_status();
  char script[600], pkg[300];
  snprintf(pkg, sizeof pkg, "%s",
           cJSON_GetObjectItem(
               cJSON_GetArrayItem(
                   cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "packages"), 0),
               "name")
               ->valuestring);
  cJSON_Delete(status);
  /* the package the adapter expects is installed */
  snprintf(script, sizeof script, "package=%s", pkg);
  expect_adapters(&guest, root, script, "ok", "installed");
  /* it expects one the host did not publish: the single best "it will not work" */
  expect_adapters(&guest, root, "package=nv_other.inf_amd64_dead", "fail",
                  "/usr/lib/wsl/drivers/nv_other.inf_amd64_dead, which is not installed");
  /* a driver too old for NVIDIA's stack */
  snprintf(script, sizeof script, "package=%s;wddm=2700", pkg);
  expect_adapters(&guest, root, script, "warn", "WDDM is 2700");
  /* a path query that overflows whatever the size: said, not trusted */
  snprintf(script, sizeof script, "package=%s;always_overflow", pkg);
  expect_adapters(&guest, root, script, "fail", "query failed");
  /* no adapter at all */
  expect_adapters(&guest, root, "adapters=0", "fail", "no GPU adapter");
  proc_stop(&host);
}

/* gpupv doctor: every finding with its fix, and exit 0 only when nothing fails. */
TEST(e2e_doctor_says_what_fails_and_how_to_fix_it) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *extra[] = {"--http", "127.0.0.1:0", NULL};
  agents_start_synced(&host, &guest, src, root, extra);
  struct buf out, err;
  char *doctor[] = {"gpupv", "--control", (char *)agents_control_uri(), "doctor", NULL};
  CHECK_EQ_INT(agents_run(doctor, &out, &err), 1); /* this guest has no GPU */
  const char *text = out.data ? (const char *)out.data : "";
  CHECK_MSG(strstr(text, "ok   source scan") && strstr(text, "ok   dashboard") &&
                strstr(text, "fail guest g1") && strstr(text, "vmbus_gpu: ") &&
                strstr(text, "fix: run the VM under Hyper-V") && strstr(text, " failing, "),
            "gpupv doctor said:\n%s", text);
  buf_done(&out);
  buf_done(&err);
  /* the host agent down: said, with how to start it */
  proc_stop(&guest);
  proc_stop(&host);
  CHECK_EQ_INT(agents_run(doctor, &out, &err), 1);
  CHECK_MSG(strstr((const char *)out.data, "fail host agent"), "gpupv doctor said:\n%s%s",
            (const char *)out.data, err.data ? (const char *)err.data : "");
  buf_done(&out);
  buf_done(&err);
}

/* Every metric the shipped Grafana dashboard queries is one the host serves. */
TEST(e2e_grafana_dashboard_queries_metrics_that_exist) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *extra[] = {"--http", "127.0.0.1:0", NULL};
  agents_start_synced(&host, &guest, src, root, extra);
  struct buf metrics, dash;
  buf_init(&metrics);
  buf_init(&dash);
  CHECK_EQ_INT(web_get(agents_dashboard_port(), "/metrics", &metrics), 200);
  char path[1024];
  snprintf(path, sizeof path, "%s/../../docs/grafana-dashboard.json", test_data_dir());
  CHECK(fs_read_file(path, 1 << 20, &dash) == 0);
  cJSON *doc = cJSON_ParseWithLength((const char *)dash.data, dash.len);
  CHECK_MSG(doc, "docs/grafana-dashboard.json is not JSON");
  int queried = 0;
  const cJSON *p, *t;
  cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "panels")) {
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(p, "targets")) {
      const char *expr = cJSON_GetObjectItem(t, "expr")->valuestring;
      for (const char *m = strstr(expr, "gpupv_"); m; m = strstr(m + 1, "gpupv_")) {
        char name[128], type[160];
        size_t n = strspn(m, "abcdefghijklmnopqrstuvwxyz_0123456789");
        snprintf(name, sizeof name, "%.*s", (int)n, m);
        snprintf(type, sizeof type, "# TYPE %s ", name);
        CHECK_MSG(strstr((const char *)metrics.data, type),
                  "the dashboard queries %s, which "
                  "/metrics does not serve",
                  name);
        queried++;
        m += n - 1;
      }
    }
  }
  CHECK(queried > 10);
  cJSON_Delete(doc);
  buf_done(&metrics);
  buf_done(&dash);
  proc_stop(&guest);
  proc_stop(&host);
}

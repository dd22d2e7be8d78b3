/* The dashboard in headless Chromium (tests/browser/dashboard.mjs, Playwright): the page loads,
 * a stale guest turns in sync during a push without a reload, the progress bar moves, the push
 * button works, and forged pushes are refused. Saves BUILD/dashboard.png. */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>

TEST(e2e_dashboard_in_browser) {
  const char *src = test_path("src"), *root = test_path("guest1");
  /* about 24 MiB at 8 MiB/s: long enough to watch the bar move */
  struct fixture_spec spec = {.seed = 21,
                              .packages = 2,
                              .files_per_package = 20,
                              .small_max = 4000,
                              .big_files = 3,
                              .big_min = 3 << 20,
                              .big_max = 5 << 20};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *extra[] = {"--http", "127.0.0.1:0", "--no-auto-push", "--max-rate", "8388608", NULL};
  agents_start_host(&host, src, NULL, extra);
  agents_start_guest(&guest, "g1", root);
  cJSON *status = agents_status();
  char url[128], login[256];
  snprintf(url, sizeof url, "%s",
           cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "dashboard")->valuestring);
  cJSON_Delete(status);
  /* the administrator's one-time login link, as `gpupv dashboard` prints it */
  struct buf lo, le;
  char *dash[] = {"gpupv", "--control", (char *)agents_control_uri(), "dashboard", "--json", NULL};
  CHECK_EQ_INT(agents_run(dash, &lo, &le), 0);
  cJSON *link = cJSON_ParseWithLength((char *)lo.data, lo.len);
  snprintf(login, sizeof login, "%s", cJSON_GetObjectItem(link, "url")->valuestring);
  cJSON_Delete(link);
  buf_done(&lo);
  buf_done(&le);
  char script[1024], shot[1024];
  snprintf(script, sizeof script, "%s/../browser/dashboard.mjs", test_data_dir());
  snprintf(shot, sizeof shot, "%s/dashboard.png", GPUPV_BUILD_DIR);
  char *argv[] = {"/usr/bin/env", "node", script, url, login, "g1", shot, NULL};
  struct buf out, err;
  buf_init(&out);
  buf_init(&err);
  int rc = proc_run(argv, &out, &err);
  CHECK_MSG(rc == 0, "browser test failed (%d):\n%s%s", rc, out.data ? (char *)out.data : "",
            err.data ? (char *)err.data : "");
  printf("%s", out.data ? (char *)out.data : "");
  CHECK(fs_exists(shot));
  agents_check_installed(root, src);
  buf_done(&out);
  buf_done(&err);
  proc_stop(&guest);
  proc_stop(&host);
}

/* The guest agent on its own: one agent per state folder. */
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(e2e_second_guest_agent_on_one_state_exits_1) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  /* the same root and state folder, as a second service or a careless admin would start */
  char state[1100], mention[128];
  snprintf(state, sizeof state, "%s", agents_guest_state("g1"));
  snprintf(mention, sizeof mention, "another gpupv-guestd (PID %d) already uses", (int)guest.pid);
  char *argv[] = {"gpupv-guestd",
                  "--connect",
                  (char *)agents_listen_uri(),
                  "--root",
                  (char *)root,
                  "--state-dir",
                  state,
                  "--name",
                  "g1",
                  NULL};
  agents_expect_exit(argv, 1, mention);
  /* the first one is untouched and still serves */
  agents_push_ok("g1");
  agents_check_installed(root, src);
  proc_stop(&guest);
  /* once it is gone, the folder is free again */
  agents_start_guest(&guest, "g1", root);
  proc_stop(&guest);
  proc_stop(&host);
}

/* A host key that cannot be saved is not trusted on first use: after a restart the guest
 * would have forgotten it and trusted any host. */
TEST(e2e_guest_refuses_first_use_when_the_pin_cannot_be_saved) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_host(&host, src, NULL, NULL);
  setenv("GPUPV_FS_FAULT", "rename:1:all", 1); /* every rename fails: the key cannot land */
  agents_start_guest(&guest, "g1", root);
  unsetenv("GPUPV_FS_FAULT");
  cJSON *result = NULL;
  CHECK_MSG(agents_push("g1", &result) == 1, "a guest that cannot pin the key installed");
  cJSON_Delete(result);
  char key[1100];
  snprintf(key, sizeof key, "%s/host-key", agents_guest_state("g1"));
  CHECK_MSG(!fs_exists(key), "a host key was saved although every rename failed");
  CHECK_MSG(!fs_exists(test_path("guest1/usr/lib/wsl/drivers")), "it installed unpinned");
  char *log = proc_read_log(test_path("guest-g1.log"));
  CHECK(strstr(log, "cannot save the host key") && !strstr(log, "trusting host key"));
  free(log);
  /* once the key can be saved, the guest pins it and installs */
  proc_stop(&guest);
  agents_start_guest(&guest, "g1", root);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  CHECK(fs_exists(key));
  proc_stop(&guest);
  proc_stop(&host);
}

/* After the switch the install has succeeded: a later step that fails (here ld.wsl.conf,
 * whose folder is a file) is a warning in `installed` and in status, not a failed push. */
TEST(e2e_failure_after_the_commit_is_a_warning) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};
  CHECK(fixture_make(src, &spec) == 0);
  CHECK(fs_mkdir_p(test_path("guest1/etc"), 0755) == 0);
  CHECK(fs_write_atomic(test_path("guest1/etc/ld.so.conf.d"), "x", 1, 0644) == 0);
  struct proc host, guest;
  agents_start_host(&host, src, NULL, NULL);
  agents_start_guest(&guest, "g1", root);
  agents_push_ok("g1"); /* exit 0: the generation is installed */
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  const cJSON *last = cJSON_GetObjectItem(g, "last_push");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(last, "ok")));
  const cJSON *warning = cJSON_GetObjectItem(last, "warning");
  CHECK_MSG(cJSON_IsString(warning) && strstr(warning->valuestring, "ld.wsl.conf"),
            "the warning did not reach the status");
  cJSON_Delete(status);
  char path[1100];
  snprintf(path, sizeof path, "%s/usr/lib/wsl/drivers/.", root); /* through the link */
  CHECK_MSG(fs_is_dir(path), "the new generation is not visible");
  proc_stop(&guest);
  proc_stop(&host);
}

/* --rollback sticks: the host pushes nothing to the pinned guest, not on connect and not for a
 * plain gpupv push, until gpupv push --force (or gpupv-guestd --unpin). */
TEST(e2e_rollback_sticks_until_forced_or_unpinned) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  char *first = agents_host_generation();
  char renamed[256];
  CHECK(fixture_bump(src, 5, renamed, sizeof renamed) == 0);
  agents_push_ok("g1");
  char *second = agents_host_generation();
  proc_stop(&guest);
  char state[1100];
  snprintf(state, sizeof state, "%s", agents_guest_state("g1"));
  char *rollback[] = {"gpupv-guestd", "--root",     (char *)root, "--state-dir",
                      state,          "--rollback", NULL};
  struct buf out, err;
  CHECK_EQ_INT(agents_run(rollback, &out, &err), 0);
  CHECK(strstr((char *)out.data, "pinned"));
  buf_done(&out);
  buf_done(&err);
  /* back on the first generation, and the host leaves it there */
  agents_start_guest(&guest, "g1", root);
  cJSON *result = NULL;
  CHECK_MSG(agents_push("g1", &result) == 1, "a plain push moved a pinned guest");
  char *said = cJSON_PrintUnformatted(result);
  CHECK_MSG(strstr(said, "pinned"), "the push result does not say the guest is pinned: %s", said);
  free(said);
  cJSON_Delete(result);
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "generation")->valuestring, first);
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "state")->valuestring, "pinned");
  cJSON_Delete(status);
  /* a forced push moves it, and ends the pin */
  char *force[] = {"gpupv",   "--control", (char *)agents_control_uri(),
                   "push",    "--guest",   "g1",
                   "--force", "--wait",    NULL};
  CHECK_EQ_INT(agents_run(force, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
  status = agents_status();
  CHECK_EQ_STR(cJSON_GetObjectItem(agents_guest(status, "g1"), "generation")->valuestring, second);
  cJSON_Delete(status);
  /* rolled back again and unpinned: the host brings it forward on its own at connect */
  proc_stop(&guest);
  CHECK_EQ_INT(agents_run(rollback, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
  char *unpin[] = {"gpupv-guestd", "--state-dir", state, "--unpin", NULL};
  CHECK_EQ_INT(agents_run(unpin, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
  agents_start_guest(&guest, "g1", root);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  free(first);
  free(second);
  proc_stop(&guest);
  proc_stop(&host);
}

/* A folder from a manual copy is moved aside at the first install, reported in status with
 * its size, and removed by --prune-legacy. */
TEST(e2e_legacy_folders_are_reported_and_pruned) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};
  CHECK(fixture_make(src, &spec) == 0);
  CHECK(fs_mkdir_p(test_path("guest1/usr/lib/wsl/drivers/old_copy"), 0755) == 0);
  CHECK(fs_write_atomic(test_path("guest1/usr/lib/wsl/drivers/old_copy/nv.dll"), "0123456789", 10,
                        0644) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  agents_check_installed(root, src);
  /* the report that lists it comes with the next connection's hello */
  proc_stop(&guest);
  agents_start_guest(&guest, "g1", root);
  cJSON *status = agents_status();
  const cJSON *legacy =
      cJSON_GetObjectItem(cJSON_GetObjectItem(agents_guest(status, "g1"), "gpu"), "legacy");
  CHECK_MSG(cJSON_GetArraySize(legacy) == 1, "status does not list the folder moved aside");
  CHECK(strncmp(cJSON_GetObjectItem(cJSON_GetArrayItem(legacy, 0), "name")->valuestring,
                "legacy-drivers-", 15) == 0);
  CHECK_EQ_INT(agents_num(cJSON_GetArrayItem(legacy, 0), "bytes"), 10);
  cJSON_Delete(status);
  proc_stop(&guest);
  char *prune[] = {"gpupv-guestd", "--root", (char *)root, "--prune-legacy", NULL};
  struct buf out, err;
  CHECK_EQ_INT(agents_run(prune, &out, &err), 0);
  CHECK(strstr((char *)out.data, "removed legacy-drivers-") &&
        strstr((char *)out.data, "10 bytes"));
  buf_done(&out);
  buf_done(&err);
  agents_start_guest(&guest, "g1", root);
  status = agents_status();
  CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(agents_guest(status, "g1"), "gpu"), "legacy"));
  cJSON_Delete(status);
  agents_check_installed(root, src); /* the installed generation is untouched */
  proc_stop(&guest);
  proc_stop(&host);
}

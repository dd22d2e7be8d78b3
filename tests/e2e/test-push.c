/* End-to-end pushes between the real gpupv-hostd, gpupv-guestd and gpupv. */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct fixture_spec small = {.seed = 1,
                                          .packages = 3,
                                          .files_per_package = 40,
                                          .small_max = 20000,
                                          .big_files = 2,
                                          .big_min = 300000,
                                          .big_max = 900000};

static const char *make_source(const struct fixture_spec *spec) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, spec) == 0);
  return src;
}

TEST(e2e_cold_push) {
  const char *src = make_source(&small);
  const char *root = test_path("guest1");
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  agents_check_installed(root, src);
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK(g);
  char *host_gen = agents_host_generation();
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "connected")));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "generation")->valuestring, host_gen);
  CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "gpu"), "nvidia_smi")->valuestring,
               "555.85");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "last_push"), "ok")));
  /* Every distinct non-empty content travelled once, however many names it has. */
  struct tree none = {0}, store, inbox, packaged;
  char path[1024];
  snprintf(path, sizeof path, "%s/store", src);
  tree_list(path, &store);
  snprintf(path, sizeof path, "%s/inbox", src);
  tree_list(path, &inbox);
  snprintf(path, sizeof path, "%s/packaged", src);
  tree_list(path, &packaged);
  tree_merge(&inbox, &packaged, 1); /* the packaged library wins a name clash */
  tree_merge(&store, &inbox, 0);
  CHECK_EQ_INT(agents_num(g, "last_push.bytes"), tree_new_content_bytes(&none, &store));
  const cJSON *pkgs = cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "packages");
  CHECK_EQ_INT(cJSON_GetArraySize(pkgs), 3);
  CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(pkgs, 0), "vendor")->valuestring,
               "Intel Corporation");
  tree_free(&store);
  tree_free(&inbox);
  tree_free(&packaged);
  free(host_gen);
  cJSON_Delete(status);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_noop_push) {
  const char *src = make_source(&small);
  const char *root = test_path("guest1");
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  cJSON *before = agents_status();
  long read_before = proc_io(guest.pid, "rchar");
  agents_push_ok("g1");
  long read = proc_io(guest.pid, "rchar") - read_before;
  cJSON *after = agents_status();
  /* The guest was asked, checked its copy by its records, and nothing travelled... */
  const cJSON *g = agents_guest(after, "g1");
  CHECK(agents_num(g, "last_push.started_unix_ms") >
        agents_num(agents_guest(before, "g1"), "last_push.started_unix_ms"));
  CHECK_EQ_INT(agents_num(g, "last_push.bytes"), 0);
  /* ...and neither side read file content: the guest read less than a tenth of the tree (the
   * manifest, its records), and the host's rescan hashed nothing. */
  double tree = agents_num(after, "host.bytes");
  CHECK_MSG(tree > 0 && (double)read < tree / 10, "the guest read %ld bytes of a %.0f byte tree",
            read, tree);
  CHECK_EQ_INT(agents_num(after, "host.scan.bytes_hashed"), 0);
  CHECK(agents_num(after, "host.scan.files") > 100);
  cJSON_Delete(before);
  cJSON_Delete(after);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_version_bump_sends_only_changes) {
  const char *src = make_source(&small);
  const char *root = test_path("guest1");
  struct proc host, guest;
  char store[1024], renamed[256], path[2048];
  struct tree before, after;
  snprintf(store, sizeof store, "%s/store", src);
  agents_start_synced(&host, &guest, src, root, NULL);
  char *old_gen = agents_host_generation();
  tree_list(store, &before);
  tree_as_installed(&before); /* compared with the guest after the rollback */
  char old_name[256];
  {
    cJSON *m = agents_status();
    const cJSON *p =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "host"), "packages"), 1);
    snprintf(old_name, sizeof old_name, "%s", cJSON_GetObjectItem(p, "name")->valuestring);
    cJSON_Delete(m);
  }
  CHECK(fixture_bump(src, 99, renamed, sizeof renamed) == 0);
  tree_list(store, &after);
  uint64_t expected = tree_new_content_bytes(&before, &after);
  CHECK(expected > 0);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK_EQ_INT(agents_num(g, "last_push.bytes"), expected);
  char *new_gen = agents_host_generation();
  CHECK(strcmp(old_gen, new_gen) != 0);
  snprintf(path, sizeof path, "%s/usr/lib/wsl/drivers/%s", root, old_name);
  CHECK_MSG(!fs_exists(path), "old package folder %s still visible", old_name);
  snprintf(path, sizeof path, "%s/usr/lib/wsl/drivers/%s", root, renamed);
  CHECK(fs_is_dir(path));
  /* The previous generation is kept out of sight for rollback. */
  snprintf(path, sizeof path, "%s/usr/lib/wsl/.gpupv/generations/%s/drivers/%s", root, old_gen,
           old_name);
  CHECK(fs_is_dir(path));
  /* --rollback switches the visible tree back to the previous generation, whole */
  proc_stop(&guest);
  struct buf out, err;
  buf_init(&out);
  buf_init(&err);
  char state[1100];
  snprintf(state, sizeof state, "%s", agents_guest_state("g1"));
  char *rollback[] = {"gpupv-guestd", "--root",     (char *)root, "--state-dir",
                      state,          "--rollback", NULL};
  CHECK_EQ_INT(proc_run(rollback, &out, &err), 0);
  CHECK(strstr((char *)out.data, "rolled back to generation"));
  char visible[1024], why[512];
  struct tree rolled;
  snprintf(visible, sizeof visible, "%s/usr/lib/wsl/drivers", root);
  tree_list(visible, &rolled);
  CHECK_MSG(tree_equal(&before, &rolled, why, sizeof why), "after rollback: %s", why);
  tree_free(&rolled);
  buf_done(&out);
  buf_done(&err);
  tree_free(&before);
  tree_free(&after);
  free(old_gen);
  free(new_gen);
  cJSON_Delete(status);
  proc_stop(&host);
}

TEST(e2e_two_guests) {
  const char *src = make_source(&small);
  struct proc host, g1, g2;
  agents_start_host(&host, src, NULL, NULL);
  agents_start_guest(&g1, "g1", test_path("guest1"));
  agents_start_guest(&g2, "g2", test_path("guest2"));
  agents_push_ok(NULL);
  agents_check_installed(test_path("guest1"), src);
  agents_check_installed(test_path("guest2"), src);
  cJSON *status = agents_status();
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(status, "guests")), 2);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "g1"), "in_sync")));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "g2"), "in_sync")));
  cJSON_Delete(status);
  /* one guest's detail, as JSON and as text (no colour codes when piped) */
  struct buf out, err;
  buf_init(&out);
  buf_init(&err);
  char *one[] = {"gpupv",  "--control", (char *)agents_control_uri(), "status", "g2",
                 "--json", NULL};
  CHECK_EQ_INT(proc_run(one, &out, &err), 0);
  cJSON *detail = cJSON_ParseWithLength((char *)out.data, out.len);
  CHECK(detail && strcmp(cJSON_GetObjectItem(detail, "name")->valuestring, "g2") == 0);
  CHECK(cJSON_IsObject(cJSON_GetObjectItem(detail, "gpu")));
  cJSON_Delete(detail);
  buf_done(&out);
  char *text[] = {"gpupv", "--control", (char *)agents_control_uri(), "status", "g1", NULL};
  CHECK_EQ_INT(proc_run(text, &out, &err), 0);
  /* every check, and the fix of each one that fails (a test root has no VMBus GPU) */
  CHECK_MSG(strstr((char *)out.data, "driver 555.85") &&
                strstr((char *)out.data, "fix: run the VM under Hyper-V") &&
                !strchr((char *)out.data, '\033'),
            "gpupv status g1:\n%s", (char *)out.data);
  buf_done(&out);
  char *missing[] = {"gpupv", "--control", (char *)agents_control_uri(), "status", "g3", NULL};
  CHECK_EQ_INT(proc_run(missing, &out, &err), 1);
  CHECK(strstr((char *)err.data, "no guest named g3"));
  buf_done(&out);
  buf_done(&err);
  proc_stop(&g1);
  proc_stop(&g2);
  proc_stop(&host);
}

TEST(e2e_guest_and_host_restart) {
  const char *src = make_source(&small);
  const char *root = test_path("guest1");
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  /* A restarted guest reports its generation and needs nothing. */
  proc_stop(&guest);
  cJSON *status = agents_status();
  CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "g1"), "connected")));
  cJSON_Delete(status);
  agents_start_guest(&guest, "g1", root);
  agents_push_ok("g1");
  status = agents_status();
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "g1"), "connected")));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "g1"), "in_sync")));
  cJSON_Delete(status);
  /* A restarted host is found again by the guest's reconnect loop. */
  status = agents_status();
  double pushed_at = agents_num(agents_guest(status, "g1"), "last_push.started_unix_ms");
  cJSON_Delete(status);
  proc_stop(&host);
  agents_start_host(&host, src, NULL, NULL);
  agents_wait_connected("g1");
  status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  /* the record survived the restart, and the new host did not push again */
  CHECK_MSG(agents_num(g, "last_push.started_unix_ms") == pushed_at,
            "the new host pushed to a guest that was already in sync");
  cJSON_Delete(status);
  agents_check_installed(root, src);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_many_files) {
  /* More blobs than fit one want message, so the request spans several. */
  static const struct fixture_spec many = {
      .seed = 11, .packages = 3, .files_per_package = 500, .small_max = 3000};
  const char *src = make_source(&many);
  const char *root = test_path("guest1");
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  agents_check_installed(root, src);
  proc_stop(&guest);
  proc_stop(&host);
}

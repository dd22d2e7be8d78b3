/* Killing either agent in the middle of a push: the guest keeps the old generation whole, and
 * the next connection finishes the push without resending what was already verified. */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG_FILES 6
#define BIG_SIZE (4u << 20)

static const struct fixture_spec spec = {.seed = 7,
                                         .packages = 2,
                                         .files_per_package = 20,
                                         .small_max = 8000,
                                         .big_files = 0,
                                         .big_min = 0,
                                         .big_max = 0};

static void visible_tree(const char *root, struct tree *ret) {
  char path[1024];
  struct tree lib;
  snprintf(path, sizeof path, "%s/usr/lib/wsl/drivers", root);
  tree_list(path, ret);
  snprintf(path, sizeof path, "%s/usr/lib/wsl/lib", root);
  tree_list(path, &lib);
  for (size_t i = 0; i < lib.n; i++) { /* keep the two halves apart */
    char *p = malloc(strlen(lib.e[i].path) + 5);
    sprintf(p, "lib/%s", lib.e[i].path);
    free(lib.e[i].path);
    lib.e[i].path = p;
  }
  tree_merge(ret, &lib, 0);
  tree_free(&lib);
}

/* Adds BIG_FILES new files to the first package, so the next push takes a while at a capped
 * rate; returns the bytes the guest will lack. */
static uint64_t add_big_update(const char *src) {
  char store[1024], path[2048];
  struct tree before, after;
  snprintf(store, sizeof store, "%s/store", src);
  tree_list(store, &before);
  struct dirent **list;
  int n = scandir(store, &list, NULL, alphasort);
  CHECK(n > 2);
  for (int i = 0; i < BIG_FILES; i++) {
    snprintf(path, sizeof path, "%s/%s/x64/update%02d.dll", store, list[2]->d_name, i);
    CHECK(fixture_write_file(path, 900000 + (uint64_t)i, BIG_SIZE) == 0);
  }
  for (int i = 0; i < n; i++)
    free(list[i]);
  free(list);
  tree_list(store, &after);
  uint64_t bytes = tree_new_content_bytes(&before, &after);
  tree_free(&before);
  tree_free(&after);
  return bytes;
}

/* Starts `gpupv push --wait --json` and returns once it reports at least min_bytes sent. */
static void push_until(struct proc *cli, uint64_t min_bytes) {
  int fd;
  char *argv[] = {"gpupv",  "--control", (char *)agents_control_uri(),
                  "push",   "--guest",   "g1",
                  "--wait", "--json",    NULL};
  proc_start(cli, test_path("cli.log"), argv, &fd);
  struct buf lines;
  buf_init(&lines);
  for (;;) {
    struct pollfd pf = {fd, POLLIN, 0};
    CHECK_MSG(poll(&pf, 1, 60000) > 0, "no progress from gpupv push within 60 s");
    char chunk[4096];
    ssize_t got = read(fd, chunk, sizeof chunk);
    CHECK_MSG(got > 0, "gpupv push ended before %llu bytes were sent: %s",
              (unsigned long long)min_bytes, lines.data ? (char *)lines.data : "");
    buf_append(&lines, chunk, (size_t)got);
    char *nl;
    while ((nl = memchr(lines.data, '\n', lines.len))) {
      *nl = 0;
      cJSON *msg = cJSON_Parse((char *)lines.data);
      CHECK_MSG(msg, "gpupv push --json printed a line that is not JSON");
      const cJSON *type = cJSON_GetObjectItem(msg, "type");
      int enough = cJSON_IsString(type) && strcmp(type->valuestring, "progress") == 0 &&
                   agents_num(msg, "bytes_done") >= (double)min_bytes;
      CHECK_MSG(strcmp(type->valuestring, "push_result") != 0,
                "the push finished before it could be interrupted");
      cJSON_Delete(msg);
      buf_consume(&lines, (size_t)(nl - (char *)lines.data) + 1);
      if (enough) {
        close(fd);
        buf_done(&lines);
        return;
      }
    }
  }
}

static void check_tree_unchanged(const char *root, const struct tree *before) {
  struct tree now;
  char why[512];
  visible_tree(root, &now);
  CHECK_MSG(tree_equal(before, &now, why, sizeof why), "visible tree changed: %s", why);
  tree_free(&now);
}

static void finish_and_check(const char *src, const char *root, uint64_t lacking) {
  agents_push_ok("g1");
  agents_check_installed(root, src);
  cJSON *status = agents_status();
  double resent = agents_num(agents_guest(status, "g1"), "last_push.bytes");
  CHECK_MSG(resent > 0 && resent <= (double)(lacking - BIG_SIZE),
            "resumed push sent %.0f of %llu bytes: verified blobs travelled again", resent,
            (unsigned long long)lacking);
  cJSON_Delete(status);
}

static void setup(const char *src, const char *root, struct proc *host, struct proc *guest,
                  struct tree *before, uint64_t *lacking) {
  CHECK(fixture_make(src, &spec) == 0);
  agents_start_synced(host, guest, src, root, NULL);
  visible_tree(root, before);
  proc_stop(host);
  *lacking = add_big_update(src);
  /* 4 MiB/s: the update takes about 6 s, so there is time to interrupt it. */
  char *slow[] = {"--max-rate", "4194304", NULL};
  agents_start_host(host, src, NULL, slow);
}

TEST(e2e_kill_guest_mid_push) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct proc host, guest, cli;
  struct tree before;
  uint64_t lacking;
  setup(src, root, &host, &guest, &before, &lacking);
  push_until(&cli, 2 * BIG_SIZE + BIG_SIZE / 2);
  proc_kill(&guest);
  int status = proc_wait(&cli, 30000);
  CHECK_MSG(status > 0, "gpupv push --wait should fail when the guest dies (status %d)", status);
  check_tree_unchanged(root, &before);
  proc_stop(&host);
  agents_start_host(&host, src, NULL, NULL);
  agents_spawn_guest(&guest, "g1", root);
  finish_and_check(src, root, lacking);
  tree_free(&before);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_kill_host_mid_push) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct proc host, guest, cli;
  struct tree before;
  uint64_t lacking;
  setup(src, root, &host, &guest, &before, &lacking);
  push_until(&cli, 2 * BIG_SIZE + BIG_SIZE / 2);
  proc_kill(&host);
  CHECK(proc_wait(&cli, 30000) > 0);
  check_tree_unchanged(root, &before);
  CHECK_MSG(proc_wait(&guest, 0) == -1, "the guest agent exited when its host died");
  agents_start_host(&host, src, NULL, NULL);
  finish_and_check(src, root, lacking);
  tree_free(&before);
  proc_stop(&guest);
  proc_stop(&host);
}

/* A staged object cut short (what a power cut can leave) is checked before it is trusted:
 * fetched again, never installed as the file's content. */
TEST(e2e_truncated_staged_object_is_fetched_again) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct proc host, guest, cli;
  struct tree before;
  uint64_t lacking;
  setup(src, root, &host, &guest, &before, &lacking);
  push_until(&cli, 2 * BIG_SIZE + BIG_SIZE / 2);
  proc_kill(&guest);
  CHECK(proc_wait(&cli, 30000) > 0);
  char objects[1100];
  snprintf(objects, sizeof objects, "%s/usr/lib/wsl/.gpupv/objects", root);
  char **names;
  size_t n, cut = 0;
  CHECK(fs_list_dir(objects, &names, &n) == 0);
  for (size_t i = 0; i < n; i++) {
    if (strlen(names[i]) != 64)
      continue; /* a .part, still being written when the guest died */
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", objects, names[i]);
    CHECK(truncate(path, 0) == 0);
    cut++;
  }
  fs_names_free(names, n);
  CHECK_MSG(cut > 0, "no blob was staged before the kill");
  agents_spawn_guest(&guest, "g1", root);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  tree_free(&before);
  proc_stop(&guest);
  proc_stop(&host);
}

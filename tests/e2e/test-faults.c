/*
 * The fs layer's fault hook (GPUPV_FS_FAULT) kills the guest agent at every unlink of an
 * install that prunes an old generation. After each kill the visible tree is exactly the old
 * or the new generation, the next push completes, and the pruned generation, pushed again,
 * arrives whole: a prune cut short is never trusted as a complete generation.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const struct fixture_spec tiny = {
    .seed = 31, .packages = 1, .files_per_package = 4, .small_max = 3000};

/* The tree a guest shows under usr/lib/wsl/drivers for the source src. */
static void drivers_of(const char *dir, struct tree *ret) {
  char path[1100];
  snprintf(path, sizeof path, "%s/store", dir);
  tree_list(path, ret);
  tree_as_installed(ret);
}

static void visible_drivers(const char *root, struct tree *ret) {
  char path[1100];
  snprintf(path, sizeof path, "%s/usr/lib/wsl/drivers", root);
  tree_list(path, ret);
}

static void copy_tree(const char *from, const char *to) {
  char *argv[] = {"/bin/cp", "-a", (char *)from, (char *)to, NULL};
  struct buf out, err;
  CHECK_EQ_INT(agents_run(argv, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
}

/* A bump can empty a folder; a manifest holds files only, so the guest never has it. */
static void drop_empty_folders(const char *dir) {
  char *argv[] = {"/usr/bin/find", (char *)dir, "-mindepth", "1", "-type", "d",
                  "-empty",        "-delete",   NULL};
  struct buf out, err;
  CHECK_EQ_INT(agents_run(argv, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
}

/* The host publishes src, a link, so switching it switches what the next push sends. */
static void publish(const char *src, const char *version) {
  CHECK(fs_symlink_replace(version, src) == 0);
}

TEST(e2e_kill_at_every_unlink_of_a_prune) {
  const char *src = test_path("src"), *root = test_path("guest1");
  const char *a = test_path("src-a"), *b = test_path("src-b"), *c = test_path("src-c");
  char renamed[256];
  CHECK(fixture_make(a, &tiny) == 0);
  drop_empty_folders(a);
  copy_tree(a, b);
  CHECK(fixture_bump(b, 2, renamed, sizeof renamed) == 0);
  drop_empty_folders(b);
  copy_tree(b, c);
  CHECK(fixture_bump(c, 3, renamed, sizeof renamed) == 0);
  drop_empty_folders(c);
  struct tree want_b, want_c;
  drivers_of(b, &want_b);
  drivers_of(c, &want_c);
  publish(src, a);
  struct proc host, guest;
  agents_start_host(&host, src, NULL, NULL);
  agents_start_guest(&guest, "g1", root);
  int kills = 0;
  for (int n = 1; n < 400; n++) {
    /* current B, previous A: installing C prunes A */
    publish(src, a);
    agents_push_ok("g1");
    publish(src, b);
    agents_push_ok("g1");
    proc_stop(&guest);
    char spec[32];
    snprintf(spec, sizeof spec, "unlink:%d:kill", n);
    setenv("GPUPV_FS_FAULT", spec, 1);
    agents_start_guest(&guest, "g1", root);
    unsetenv("GPUPV_FS_FAULT");
    publish(src, c);
    cJSON *result = NULL;
    int rc = agents_push("g1", &result);
    cJSON_Delete(result);
    int status = proc_wait(&guest, rc == 0 ? 0 : 30000);
    if (status == -1) {
      CHECK_MSG(rc == 0, "unlink %d: the push failed but the guest lives", n);
      break; /* past the last unlink: the install ran to its end */
    }
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 137, "unlink %d: the guest exited %d", n,
              status);
    kills++;
    /* old or new, never a mix */
    struct tree now;
    char why_b[512], why_c[512];
    visible_drivers(root, &now);
    CHECK_MSG(tree_equal(&want_b, &now, why_b, sizeof why_b) ||
                  tree_equal(&want_c, &now, why_c, sizeof why_c),
              "killed at unlink %d, the visible tree is neither B (%s) nor C (%s)", n, why_b,
              why_c);
    tree_free(&now);
    /* the next push completes, and the pruned A comes back whole */
    agents_start_guest(&guest, "g1", root);
    agents_push_ok("g1");
    agents_check_installed(root, c);
    publish(src, a);
    agents_push_ok("g1");
    agents_check_installed(root, a);
  }
  CHECK_MSG(kills >= 3, "only %d unlinks were reached: is the hook wired?", kills);
  fprintf(stderr, "killed at %d unlinks of an install that prunes\n", kills);
  tree_free(&want_b);
  tree_free(&want_c);
  proc_stop(&guest);
  proc_stop(&host);
}

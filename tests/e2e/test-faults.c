/*
 * The fs layer's fault hook (GPUPV_FS_FAULT) kills the guest agent, or fails the call, at
 * every write, fsync, rename, link, unlink and mkdir of an install that prunes an old
 * generation. After each the visible tree is exactly the old or the new generation, the host
 * never says the new one while the old is visible, the next push completes, and the pruned
 * generation, pushed again, arrives whole: a prune cut short is never trusted as complete.
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

/* Generations A, B and C of one small driver store, and the host publishing A. */
struct walk {
  const char *src, *root, *a, *b, *c;
  struct tree want_b, want_c;
  struct proc host, guest;
};

static void walk_start(struct walk *w) {
  char renamed[256];
  w->src = test_path("src");
  w->root = test_path("guest1");
  w->a = test_path("src-a");
  w->b = test_path("src-b");
  w->c = test_path("src-c");
  CHECK(fixture_make(w->a, &tiny) == 0);
  drop_empty_folders(w->a);
  copy_tree(w->a, w->b);
  CHECK(fixture_bump(w->b, 2, renamed, sizeof renamed) == 0);
  drop_empty_folders(w->b);
  copy_tree(w->b, w->c);
  CHECK(fixture_bump(w->c, 3, renamed, sizeof renamed) == 0);
  drop_empty_folders(w->c);
  drivers_of(w->b, &w->want_b);
  drivers_of(w->c, &w->want_c);
  publish(w->src, w->a);
  agents_start_host(&w->host, w->src, NULL, NULL);
  agents_start_guest(&w->guest, "g1", w->root);
}

static void walk_stop(struct walk *w) {
  tree_free(&w->want_b);
  tree_free(&w->want_c);
  proc_stop(&w->guest);
  proc_stop(&w->host);
}

/* 1 when the guest's log says the Nth call of op was failed. */
static int fault_reached(const char *op, int n) {
  char path[1100], line[80];
  snprintf(path, sizeof path, "%s/guest-g1.log", test_dir());
  snprintf(line, sizeof line, "gpupv fs fault: %s call %d fails\n", op, n);
  struct buf log;
  buf_init(&log);
  CHECK(fs_read_file(path, 64u << 20, &log) == 0 && buf_append(&log, "", 1) == 0);
  int said = strstr((char *)log.data, line) != NULL;
  buf_done(&log);
  return said;
}

/* The visible tree is exactly B or exactly C; which one, as 'b' or 'c'. */
static char visible_generation(struct walk *w, const char *what) {
  struct tree now;
  char why_b[512], why_c[512];
  visible_drivers(w->root, &now);
  int is_b = tree_equal(&w->want_b, &now, why_b, sizeof why_b);
  int is_c = !is_b && tree_equal(&w->want_c, &now, why_c, sizeof why_c);
  tree_free(&now);
  CHECK_MSG(is_b || is_c, "%s: the visible tree is neither B (%s) nor C (%s)", what, why_b, why_c);
  return is_b ? 'b' : 'c';
}

/* What the host says of the guest's generation: 'b', 'c' or '?'. */
static char reported_generation(const char *gen_b, const char *gen_c) {
  cJSON *status = agents_status();
  const cJSON *gen = cJSON_GetObjectItem(agents_guest(status, "g1"), "generation");
  char said = !cJSON_IsString(gen)                   ? '?'
              : strcmp(gen->valuestring, gen_b) == 0 ? 'b'
              : strcmp(gen->valuestring, gen_c) == 0 ? 'c'
                                                     : '?';
  cJSON_Delete(status);
  return said;
}

/*
 * Runs the install of C over current B and previous A (which it prunes) with the Nth call of
 * op faulted, for N = 1, 2, ... until an install passes its last such call. how is "kill" (the
 * guest dies there, as with kill -9) or "fail" (that call fails with EIO and the guest lives).
 * After each: the visible tree is exactly B or C, the host never says C while B is visible,
 * and the next push completes to C. Returns the number of calls that were faulted.
 */
static int walk_faults(struct walk *w, const char *op, const char *how) {
  int kill = strcmp(how, "kill") == 0, faulted = 0;
  char gen_b[HASH_HEX_LEN + 1] = "", gen_c[HASH_HEX_LEN + 1] = "";
  for (int n = 1; n < 2000; n++) {
    char what[64];
    snprintf(what, sizeof what, "%s %s %d", how, op, n);
    /* current B, previous A: installing C prunes A */
    publish(w->src, w->a);
    agents_push_ok("g1");
    publish(w->src, w->b);
    agents_push_ok("g1");
    if (!*gen_b) {
      char *g = agents_host_generation();
      snprintf(gen_b, sizeof gen_b, "%s", g);
      free(g);
    }
    proc_stop(&w->guest);
    char spec[64];
    snprintf(spec, sizeof spec, "%s:%d%s", op, n, kill ? ":kill" : "");
    setenv("GPUPV_FS_FAULT", spec, 1);
    agents_start_guest(&w->guest, "g1", w->root);
    unsetenv("GPUPV_FS_FAULT");
    publish(w->src, w->c);
    if (!*gen_c) {
      char *g = agents_host_generation();
      snprintf(gen_c, sizeof gen_c, "%s", g);
      free(g);
    }
    cJSON *result = NULL;
    int rc = agents_push("g1", &result);
    int ok = rc == 0 && cJSON_IsTrue(cJSON_GetObjectItem(result, "ok"));
    cJSON_Delete(result);
    if (kill) {
      int status = proc_wait(&w->guest, ok ? 0 : 30000);
      if (status == -1) {
        CHECK_MSG(ok, "%s: the push failed but the guest lives", what);
        break; /* past the last such call: the install ran to its end */
      }
      CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 137, "%s: the guest exited %d", what,
                status);
      visible_generation(w, what); /* old or new, never a mix */
      agents_start_guest(&w->guest, "g1", w->root);
    } else {
      CHECK_MSG(proc_wait(&w->guest, 0) == -1, "%s: the guest died of a failed call", what);
      if (!fault_reached(op, n)) {
        CHECK_MSG(ok, "%s: the push failed, but no call was faulted", what);
        break; /* past the last such call */
      }
      char seen = visible_generation(w, what), said = reported_generation(gen_b, gen_c);
      CHECK_MSG(!(said == 'c' && seen == 'b'), "%s: said to be in sync over generation B", what);
      CHECK_MSG(!ok || seen == 'c', "%s: the push succeeded, but B is visible", what);
    }
    faulted++;
    /* the next push completes, and the pruned A comes back whole */
    agents_push_ok("g1");
    agents_check_installed(w->root, w->c);
    publish(w->src, w->a);
    agents_push_ok("g1");
    agents_check_installed(w->root, w->a);
  }
  fprintf(stderr, "%s at %d %s calls of an install that prunes\n", how, faulted, op);
  return faulted;
}

/* Walks every call of op, done how, and checks at least least were reached. */
static void walk_test(const char *op, const char *how, int least) {
  struct walk w;
  walk_start(&w);
  int faulted = walk_faults(&w, op, how);
  CHECK_MSG(faulted >= least, "only %d %s calls were reached: is the hook wired?", faulted, op);
  walk_stop(&w);
}

TEST(e2e_kill_at_every_write_of_an_install) {
  walk_test("write", "kill", 3);
}

TEST(e2e_kill_at_every_fsync_of_an_install) {
  walk_test("fsync", "kill", 2);
}

TEST(e2e_kill_at_every_rename_of_an_install) {
  walk_test("rename", "kill", 3);
}

TEST(e2e_kill_at_every_link_of_an_install) {
  walk_test("link", "kill", 3);
}

TEST(e2e_kill_at_every_unlink_of_an_install) {
  walk_test("unlink", "kill", 3);
}

TEST(e2e_kill_at_every_mkdir_of_an_install) {
  walk_test("mkdir", "kill", 3);
}

TEST(e2e_fail_at_every_write_of_an_install) {
  walk_test("write", "fail", 3);
}

TEST(e2e_fail_at_every_fsync_of_an_install) {
  walk_test("fsync", "fail", 2);
}

TEST(e2e_fail_at_every_rename_of_an_install) {
  walk_test("rename", "fail", 3);
}

TEST(e2e_fail_at_every_link_of_an_install) {
  walk_test("link", "fail", 3);
}

TEST(e2e_fail_at_every_unlink_of_an_install) {
  walk_test("unlink", "fail", 3);
}

TEST(e2e_fail_at_every_mkdir_of_an_install) {
  walk_test("mkdir", "fail", 3);
}

/*
 * The guest's verified object store: an installed file edited in place (the object itself,
 * through its hard link) or replaced is noticed by its record, never carried forward, and put
 * back by the next push, of the same generation or a new one.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static const struct fixture_spec spec = {
    .seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};

/* The path of an installed file of the drivers tree with content, the first by name. */
static void installed_file(const char *root, char *out, size_t size) {
  char drivers[1100];
  struct tree t;
  snprintf(drivers, sizeof drivers, "%s/usr/lib/wsl/drivers", root);
  tree_list(drivers, &t);
  size_t i = 0;
  while (i < t.n && (t.e[i].is_dir || t.e[i].size < 2))
    i++;
  CHECK_MSG(i < t.n, "no installed file with content under %s", drivers);
  snprintf(out, size, "%s/%s", drivers, t.e[i].path);
  tree_free(&t);
}

/* Overwrites the first bytes of path where they are: same inode, as an editor in place or a
 * bad sector would leave it. */
static void edit_in_place(const char *path) {
  int fd = open(path, O_WRONLY);
  CHECK_MSG(fd >= 0, "opening %s for writing", path);
  CHECK(pwrite(fd, "XX", 2, 0) == 2);
  CHECK(close(fd) == 0);
}

static uint64_t last_push_bytes(void) {
  cJSON *status = agents_status();
  double bytes = agents_num(agents_guest(status, "g1"), "last_push.bytes");
  cJSON_Delete(status);
  return (uint64_t)bytes;
}

TEST(e2e_file_edited_in_place_is_put_back) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  char path[1400];
  installed_file(root, path, sizeof path);
  edit_in_place(path);
  /* the host has not changed: the same generation is offered, and the edit is caught */
  agents_push_ok("g1");
  agents_check_installed(root, src);
  CHECK_MSG(last_push_bytes() > 0, "the edited file's content did not travel again");
  /* and once put back, nothing more travels */
  agents_push_ok("g1");
  CHECK_EQ_INT((int)last_push_bytes(), 0);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_file_edited_in_place_is_not_carried_into_the_next_generation) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  char path[1400], renamed[256];
  installed_file(root, path, sizeof path);
  edit_in_place(path);
  /* a driver update that still holds the edited file's content */
  CHECK(fixture_bump(src, 5, renamed, sizeof renamed) == 0);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_file_replaced_is_put_back) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  char path[1400], other[1500];
  installed_file(root, path, sizeof path);
  /* a new file renamed over it, as an editor that saves by rename does: the object is intact */
  snprintf(other, sizeof other, "%s.edited", path);
  CHECK(fs_write_atomic(other, "replaced", 8, 0644) == 0);
  CHECK(fs_rename(other, path) == 0);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  CHECK_EQ_INT((int)last_push_bytes(), 0); /* the object was fine: nothing travelled */
  proc_stop(&guest);
  proc_stop(&host);
}

/* Moves ROOT/usr/lib/wsl/REL aside and plants a link to canary in its place; undo_link puts it
 * back. */
static void plant_link(const char *root, const char *rel, const char *canary) {
  char path[1400], aside[1500];
  snprintf(path, sizeof path, "%s/usr/lib/wsl/%s", root, rel);
  snprintf(aside, sizeof aside, "%s.aside", path);
  if (fs_exists(path))
    CHECK(fs_rename(path, aside) == 0);
  CHECK(symlink(canary, path) == 0);
}

static void undo_link(const char *root, const char *rel) {
  char path[1400], aside[1500];
  snprintf(path, sizeof path, "%s/usr/lib/wsl/%s", root, rel);
  snprintf(aside, sizeof aside, "%s.aside", path);
  CHECK(fs_unlink(path) == 0);
  if (fs_exists(aside))
    CHECK(fs_rename(aside, path) == 0);
}

/* pattern with GEN made .gpupv/generations/<the installed generation> and PKG its first
 * package. */
static void current_folder(const char *pattern, char *out, size_t size) {
  if (strncmp(pattern, "GEN/", 4) != 0) {
    snprintf(out, size, "%s", pattern);
    return;
  }
  cJSON *status = agents_status();
  const cJSON *host = cJSON_GetObjectItem(status, "host");
  const cJSON *pkg = cJSON_GetArrayItem(cJSON_GetObjectItem(host, "packages"), 0);
  const char *rest = pattern + 4;
  int with_pkg = strstr(rest, "/PKG") != NULL;
  snprintf(out, size, ".gpupv/generations/%s/drivers%s%s",
           cJSON_GetObjectItem(host, "generation")->valuestring, with_pkg ? "/" : "",
           with_pkg ? cJSON_GetObjectItem(pkg, "name")->valuestring : "");
  cJSON_Delete(status);
}

TEST(e2e_planted_links_inside_the_store_are_refused) {
  const char *src = test_path("src"), *root = test_path("guest1");
  const char *canary = test_path("canary");
  CHECK(fixture_make(src, &spec) == 0);
  CHECK(fs_mkdir_p(canary, 0755) == 0);
  CHECK(fs_write_atomic(test_path("canary/keep"), "canary", 6, 0644) == 0);
  struct tree canary_before;
  tree_list(canary, &canary_before);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  /* the store's own folders (a new generation must be written), then the folders of the
   * installed generation (which a push of the same generation checks and puts back) */
  const char *const folders[] = {".gpupv",         ".gpupv/objects", ".gpupv/generations",
                                 ".gpupv/staging", "GEN/drivers",    "GEN/drivers/PKG"};
  uint32_t seed = 20;
  for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
    int new_generation = i < 4;
    if (new_generation) {
      char renamed[256];
      CHECK(fixture_bump(src, seed++, renamed, sizeof renamed) == 0);
    }
    char folder[600];
    current_folder(folders[i], folder, sizeof folder);
    plant_link(root, folder, canary);
    cJSON *result = NULL;
    int rc = agents_push("g1", &result);
    char *said = cJSON_PrintUnformatted(result);
    CHECK_MSG(rc != 0, "a push through a link at %s succeeded: %s", folder, said);
    CHECK_MSG(strstr(said, "symbolic link"), "the error does not name the link at %s: %s", folder,
              said);
    free(said);
    cJSON_Delete(result);
    struct tree canary_now;
    char why[512];
    tree_list(canary, &canary_now);
    CHECK_MSG(tree_equal(&canary_before, &canary_now, why, sizeof why),
              "something was written through the link at %s: %s", folder, why);
    tree_free(&canary_now);
    /* the link gone, the next push completes */
    undo_link(root, folder);
    agents_push_ok("g1");
    agents_check_installed(root, src);
  }
  tree_free(&canary_before);
  proc_stop(&guest);
  proc_stop(&host);
}

/* A full disk: the old generation stays whole and in use, the error reaches gpupv status in
 * full, and once there is room the next push completes. The root is a small tmpfs. */
TEST(e2e_full_disk_keeps_the_old_generation) {
  const char *src = test_path("src"), *old = test_path("src-old"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  char *cp[] = {"/bin/cp", "-a", (char *)src, (char *)old, NULL};
  struct buf out, err;
  CHECK_EQ_INT(agents_run(cp, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
  CHECK(fs_mkdir_p(root, 0755) == 0);
  CHECK_MSG(mount("tmpfs", root, "tmpfs", 0, "size=2m") == 0,
            "mounting a 2 MiB tmpfs at %s (the test needs CAP_SYS_ADMIN): %s", root,
            strerror(errno));
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  /* a driver update larger than the room left */
  char big[1400];
  cJSON *status = agents_status();
  const cJSON *pkg =
      cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "packages"), 0);
  snprintf(big, sizeof big, "%s/store/%s/big-update.bin", src,
           cJSON_GetObjectItem(pkg, "name")->valuestring);
  cJSON_Delete(status);
  CHECK(fixture_write_file(big, 77, 3u << 20) == 0);
  cJSON *result = NULL;
  CHECK_MSG(agents_push("g1", &result) != 0, "a push larger than the disk succeeded");
  cJSON_Delete(result);
  /* the old generation, whole, and the reason in status, in full */
  agents_check_installed(root, old);
  status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  const cJSON *error = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "last_push"), "error");
  CHECK_MSG(cJSON_IsString(error) && strstr(error->valuestring, "no space left on device"),
            "status does not say the disk is full");
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "state")->valuestring, "error");
  cJSON_Delete(status);
  char *show[] = {"gpupv", "--control", (char *)agents_control_uri(), "status", "g1", NULL};
  CHECK_EQ_INT(agents_run(show, &out, &err), 0);
  CHECK_MSG(out.data && strstr((char *)out.data, "no space left on device"),
            "gpupv status g1 does not say the disk is full: %s", out.data ? (char *)out.data : "");
  buf_done(&out);
  buf_done(&err);
  /* room again: the next push completes */
  CHECK(mount("tmpfs", root, "tmpfs", MS_REMOUNT, "size=32m") == 0);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  proc_stop(&guest);
  proc_stop(&host);
  CHECK(umount2(root, MNT_DETACH) == 0);
}

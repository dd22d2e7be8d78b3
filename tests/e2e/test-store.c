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

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

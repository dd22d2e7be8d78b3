/* stamps: a read of the source is trusted only if nothing it saw moved since. */
#include "common/err.h"
#include "common/fs.h"
#include "host-agent/stamps.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_text(const char *path, const char *text) {
  CHECK(fs_write_atomic(path, text, strlen(text), 0644) == 0);
}

/* Stamps dir and every file named, as a scan would. */
static void stamp_all(struct stamps *s, const char *dir, const char *const *files) {
  memset(s, 0, sizeof *s);
  CHECK(stamps_add_now(s, dir) == 0);
  for (; *files; files++)
    CHECK(stamps_add_now(s, *files) == 0);
}

TEST(stamps_see_every_kind_of_move) {
  const char *dir = test_path("pkg"), *a = test_path("pkg/a.dll"), *b = test_path("pkg/b.dll");
  CHECK(fs_mkdir_p(dir, 0755) == 0);
  write_text(a, "version 1");
  write_text(b, "other");
  const char *files[] = {a, b, NULL};
  struct stamps s;
  char what[256];
  stamp_all(&s, dir, files);
  CHECK_EQ_INT(s.n, 3);
  CHECK_EQ_INT(s.dirs, 1);
  CHECK_EQ_INT(stamps_check(&s, what, sizeof what), 0);
  size_t n;
  const char **dirs = stamps_dirs(&s, &n);
  CHECK(dirs && n == 1 && strcmp(dirs[0], dir) == 0);
  free(dirs);
  /* a file rewritten in place with the same size */
  FILE *f = fopen(b, "r+");
  CHECK(f && fputs("OTHER", f) >= 0 && fclose(f) == 0);
  CHECK_EQ_INT(stamps_check(&s, what, sizeof what), GPUPV_EMOVED);
  CHECK_EQ_STR(what, b);
  stamps_free(&s);
  /* a file added to a folder: the folder moved */
  stamp_all(&s, dir, files);
  write_text(test_path("pkg/new.dll"), "new");
  CHECK_EQ_INT(stamps_check(&s, what, sizeof what), GPUPV_EMOVED);
  CHECK_EQ_STR(what, dir);
  stamps_free(&s);
  /* a file replaced by another (a new inode), and a file removed */
  stamp_all(&s, dir, files);
  write_text(a, "version 2");
  CHECK_EQ_INT(stamps_check(&s, what, sizeof what), GPUPV_EMOVED);
  stamps_free(&s);
  stamp_all(&s, dir, files);
  CHECK(fs_unlink(b) == 0);
  CHECK_EQ_INT(stamps_check(&s, what, sizeof what), GPUPV_EMOVED);
  stamps_free(&s);
}

TEST(stamps_newest_names_the_latest_change) {
  const char *dir = test_path("pkg"), *a = test_path("pkg/a.dll"), *b = test_path("pkg/b.dll");
  CHECK(fs_mkdir_p(dir, 0755) == 0);
  write_text(a, "a");
  write_text(b, "b");
  struct stamps s;
  const char *files[] = {a, b, NULL};
  stamp_all(&s, dir, files);
  const char *path;
  int64_t newest = stamps_newest(&s, &path);
  /* b was written last (its rename also moved the folder, at the same instant or before) */
  CHECK(path && (strcmp(path, b) == 0 || strcmp(path, dir) == 0));
  CHECK(newest >= s.items[1].info.mtime_ns && newest >= s.items[2].info.ctime_ns);
  stamps_free(&s);
  memset(&s, 0, sizeof s);
  CHECK(stamps_newest(&s, &path) == INT64_MIN && path == NULL);
}

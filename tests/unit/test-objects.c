/* The guest's object store: records that survive a save, catch an edit, and drop what is
 * gone; the executable copy of a content; collection of what no generation keeps. */
#include "common/fs.h"
#include "common/hash.h"
#include "guest-agent/objects.h"
#include "tests/support/test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* Writes content as an object of o the way the receiver does, and returns its record. */
static void put_object(struct objects *o, const char *content, uint8_t sha[HASH_LEN],
                       struct object_record *ret) {
  char path[1400];
  hash_bytes(content, strlen(content), sha);
  objects_path(o, sha, 0, path, sizeof path);
  CHECK(fs_mkdir_p(o->dir, 0755) == 0);
  CHECK(fs_write_atomic(path, content, strlen(content), OBJECT_MODE) == 0);
  struct fs_info info;
  CHECK(fs_info_path(path, &info) == 0);
  records_from_info(&info, sha, 0, ret);
}

TEST(unit_records_hold_many_and_replace_their_own) {
  struct object_records set;
  records_init(&set);
  struct object_record r;
  memset(&r, 0, sizeof r);
  for (uint32_t i = 0; i < 5000; i++) {
    hash_bytes(&i, sizeof i, r.sha256);
    r.size = i;
    r.exec = (uint8_t)(i % 2);
    CHECK(records_put(&set, &r) == 0);
  }
  CHECK_EQ_INT((int)set.n, 5000);
  uint32_t k = 4321;
  hash_bytes(&k, sizeof k, r.sha256);
  CHECK(records_get(&set, r.sha256, 1) && records_get(&set, r.sha256, 1)->size == 4321);
  CHECK(!records_get(&set, r.sha256, 0)); /* the other object of one content is another */
  r.exec = 1, r.size = 7;
  CHECK(records_put(&set, &r) == 0);
  CHECK_EQ_INT((int)set.n, 5000);
  CHECK(records_get(&set, r.sha256, 1)->size == 7);
  records_done(&set);
}

TEST(unit_objects_records_survive_a_save_and_catch_an_edit) {
  const char *base = test_path("gpupv");
  struct objects o;
  struct object_records fresh;
  records_init(&fresh);
  CHECK(objects_open(&o, base, NULL) == 0);
  uint8_t a[HASH_LEN], b[HASH_LEN];
  struct object_record ra, rb;
  put_object(&o, "content a", a, &ra);
  put_object(&o, "content b", b, &rb);
  CHECK(records_put(&fresh, &ra) == 0 && records_put(&fresh, &rb) == 0);
  objects_close(&o);
  /* fresh records are trusted as they are; saved, they are read back */
  CHECK(objects_open(&o, base, &fresh) == 0);
  CHECK(objects_check(&o, a, 0, 9) && objects_check(&o, b, 0, 9));
  CHECK(objects_save(&o) == 0);
  objects_close(&o);
  CHECK(objects_open(&o, base, NULL) == 0);
  CHECK_EQ_INT((int)o.rec.n, 2);
  CHECK(records_get(&o.rec, a, 0)->ctime_ns == ra.ctime_ns);
  /* an edit in place, same size, same inode: the record no longer matches, the hash fails */
  char path[1400];
  objects_path(&o, a, 0, path, sizeof path);
  int fd = open(path, O_WRONLY);
  CHECK(fd >= 0 && pwrite(fd, "X", 1, 0) == 1 && close(fd) == 0);
  CHECK(!objects_check(&o, a, 0, 9));
  CHECK(!fs_exists(path)); /* removed, to be fetched again */
  CHECK(!records_get(&o.rec, a, 0));
  /* a lost record only costs a hash: the content still proves itself */
  struct object_record *r = records_get(&o.rec, b, 0);
  r->ctime_ns = 1;
  CHECK(objects_check(&o, b, 0, 9));
  CHECK(records_get(&o.rec, b, 0)->ctime_ns == rb.ctime_ns);
  /* a wrong size is no object of that content */
  CHECK(!objects_check(&o, b, 0, 10));
  objects_close(&o);
  records_done(&fresh);
}

static int keep_only(void *ctx, const uint8_t sha256[HASH_LEN]) {
  return memcmp(ctx, sha256, HASH_LEN) == 0;
}

TEST(unit_objects_executable_copy_and_collection) {
  const char *base = test_path("gpupv");
  struct objects o;
  CHECK(objects_open(&o, base, NULL) == 0);
  uint8_t a[HASH_LEN], b[HASH_LEN];
  struct object_record r;
  put_object(&o, "run me", a, &r);
  put_object(&o, "drop me", b, &r);
  /* the executable object is made from the plain one, and hashed as it is checked */
  CHECK(objects_provide(&o, a, 1, 6) == 0);
  char path[1400];
  struct fs_info info;
  objects_path(&o, a, 1, path, sizeof path);
  CHECK(fs_info_path(path, &info) == 0);
  CHECK_EQ_INT((int)info.mode, OBJECT_MODE_EXEC);
  CHECK(records_get(&o.rec, a, 1));
  CHECK_EQ_INT(objects_provide(&o, (const uint8_t *)"no such content, 32 bytes long..", 0, 5),
               UV_ENOENT);
  /* a link of our own moves ctime: held before, settled after, the record follows */
  char link[1500];
  snprintf(link, sizeof link, "%s/link", base);
  objects_hold(&o);
  CHECK(fs_hard_link(path, link) == 0);
  objects_settle(&o);
  CHECK(fs_info_path(path, &info) == 0);
  CHECK(records_get(&o.rec, a, 1)->ctime_ns == info.ctime_ns);
  /* collection keeps what is kept, both objects of it, and removes the rest */
  char part[1500], plain[1400], dropped[1400];
  snprintf(part, sizeof part, "%s/unfinished.part", o.dir);
  CHECK(fs_write_atomic(part, "x", 1, 0644) == 0);
  objects_path(&o, a, 0, plain, sizeof plain);
  objects_path(&o, b, 0, dropped, sizeof dropped);
  CHECK(objects_collect(&o, keep_only, a) == 0);
  CHECK(fs_exists(plain) && fs_exists(path));
  CHECK(!fs_exists(dropped) && !fs_exists(part));
  CHECK(!records_get(&o.rec, b, 0));
  objects_close(&o);
}

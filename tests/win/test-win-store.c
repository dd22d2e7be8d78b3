/* The Windows guest layout (store-win.c), through the store API, under Wine. */
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "guest-agent/store.h"
#include "proto/manifest.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct file_spec {
  const char *package; /* NULL for a library */
  const char *path;
  const char *content;
};

/* Builds and encodes a manifest, staging its content when stage is set; returns it with the
 * encoding. */
static struct manifest *make_generation(const struct store *s, const struct file_spec *files,
                                        size_t n, int stage, struct buf *enc) {
  struct manifest m;
  memset(&m, 0, sizeof m);
  for (size_t i = 0; i < n; i++) {
    int pkg = MANIFEST_LIB;
    if (files[i].package) {
      pkg = -2;
      for (size_t p = 0; p < m.npackages; p++)
        if (strcmp(m.packages[p].name, files[i].package) == 0)
          pkg = (int)p;
      if (pkg == -2)
        CHECK(manifest_add_package(&m, files[i].package, "1.0", "Test", &pkg) == 0);
    }
    uint8_t digest[HASH_LEN];
    size_t len = strlen(files[i].content);
    hash_bytes(files[i].content, len, digest);
    CHECK(manifest_add_file(&m, pkg, files[i].path, len, 0644, digest,
                            pkg == MANIFEST_LIB ? ORIGIN_INBOX : ORIGIN_NONE) == 0);
    if (!stage)
      continue;
    struct store_blob *b;
    CHECK(store_blob_open(s, digest, &b) == 0);
    CHECK(store_blob_write(b, files[i].content, len) == 0);
    struct object_record record;
    CHECK(store_blob_finish(b, digest, &record) == 0);
  }
  buf_init(enc);
  CHECK(manifest_encode(&m, enc, NULL) == 0);
  struct manifest *out;
  CHECK(manifest_decode(enc->data, enc->len, &MANIFEST_DEFAULT_LIMITS, &out, NULL) == 0);
  manifest_done(&m);
  return out;
}

static void install(const struct store *s, const struct file_spec *files, size_t n,
                    uint8_t ret_id[HASH_LEN]) {
  struct buf enc;
  struct manifest *m = make_generation(s, files, n, 1, &enc);
  char err[512];
  char warn[1100];
  int rc = store_install(s, m, NULL, enc.data, enc.len, err, sizeof err, warn, sizeof warn);
  CHECK_MSG(rc == 0, "install: %s", err);
  memcpy(ret_id, m->id, HASH_LEN);
  manifest_free(m);
  buf_done(&enc);
}

/* Plans the generation of files, staging nothing; returns how many blobs it wants. */
static size_t plan(const struct store *s, const struct file_spec *files, size_t n) {
  struct buf enc;
  struct manifest *m = make_generation(s, files, n, 0, &enc);
  uint8_t *want;
  size_t nwant;
  uint64_t bytes;
  CHECK(store_plan(s, m, NULL, &want, &nwant, &bytes) == 0);
  free(want);
  manifest_free(m);
  buf_done(&enc);
  return nwant;
}

static void check_file(const char *root, const char *rel, const char *want) {
  char path[2048];
  snprintf(path, sizeof path, "%s/HostDriverStore/FileRepository/%s", root, rel);
  struct buf got;
  buf_init(&got);
  int err = fs_read_file(path, 1 << 20, &got);
  CHECK_MSG(err == 0, "%s: %s", path, gpupv_strerror(err));
  CHECK_MSG(got.len == strlen(want) && memcmp(got.data, want, got.len) == 0, "%s differs", path);
  buf_done(&got);
}

static int visible(const char *root, const char *rel) {
  char path[2048];
  snprintf(path, sizeof path, "%s/HostDriverStore/FileRepository/%s", root, rel);
  return fs_exists(path);
}

static const struct file_spec gen_a[] = {
    {"nv_dispi.inf_amd64_aaaa", "nvldumdx.dll", "umd version A"},
    {"nv_dispi.inf_amd64_aaaa", "sub/nvcuda64.dll", "cuda A"},
    {"iigd_dch.inf_amd64_cccc", "igdumdim64.dll", "intel unchanged"},
    {NULL, "libcuda.so.1", "a Linux library, not for Windows guests"},
};
/* gen_a with another library: new to the guest, but a library */
static const struct file_spec gen_a_new_lib[] = {
    {"nv_dispi.inf_amd64_aaaa", "nvldumdx.dll", "umd version A"},
    {"nv_dispi.inf_amd64_aaaa", "sub/nvcuda64.dll", "cuda A"},
    {"iigd_dch.inf_amd64_cccc", "igdumdim64.dll", "intel unchanged"},
    {NULL, "libcuda.so.1", "a newer Linux library, still not for Windows guests"},
};
static const struct file_spec gen_b[] = {
    {"nv_dispi.inf_amd64_bbbb", "nvldumdx.dll", "umd version B"},
    {"nv_dispi.inf_amd64_bbbb", "sub/nvcuda64.dll", "cuda A"},
    {"iigd_dch.inf_amd64_cccc", "igdumdim64.dll", "intel unchanged"},
};

TEST(unit_win_store_switch_and_rollback) {
  const char *root = test_path("System32");
  struct store s;
  CHECK(store_init(&s, root) == 0);
  uint8_t a[HASH_LEN], b[HASH_LEN], cur[HASH_LEN];
  install(&s, gen_a, 4, a);
  check_file(root, "nv_dispi.inf_amd64_aaaa/nvldumdx.dll", "umd version A");
  check_file(root, "nv_dispi.inf_amd64_aaaa/sub/nvcuda64.dll", "cuda A");
  check_file(root, "iigd_dch.inf_amd64_cccc/igdumdim64.dll", "intel unchanged");
  CHECK(store_current(&s, cur) && memcmp(cur, a, HASH_LEN) == 0);

  /* A Windows guest plans only driver content: the library is never asked for. */
  CHECK_EQ_INT(plan(&s, gen_a_new_lib, 4), 0);

  install(&s, gen_b, 3, b);
  check_file(root, "nv_dispi.inf_amd64_bbbb/nvldumdx.dll", "umd version B");
  CHECK_MSG(!visible(root, "nv_dispi.inf_amd64_aaaa"), "the old package folder is still there");
  check_file(root, "iigd_dch.inf_amd64_cccc/igdumdim64.dll", "intel unchanged");
  CHECK(store_previous(&s, cur) && memcmp(cur, a, HASH_LEN) == 0);

  char err[512];
  CHECK_MSG(store_rollback(&s, err, sizeof err) == 0, "rollback: %s", err);
  check_file(root, "nv_dispi.inf_amd64_aaaa/nvldumdx.dll", "umd version A");
  CHECK(!visible(root, "nv_dispi.inf_amd64_bbbb"));
  CHECK(store_current(&s, cur) && memcmp(cur, a, HASH_LEN) == 0);
}

TEST(unit_win_store_finishes_an_interrupted_switch) {
  const char *root = test_path("System32");
  struct store s;
  CHECK(store_init(&s, root) == 0);
  uint8_t a[HASH_LEN], b[HASH_LEN];
  install(&s, gen_b, 3, b);
  install(&s, gen_a, 4, a);
  /* As if the agent stopped right after committing B again: B is current, its package waits
   * in incoming\ and A's package is still visible. */
  char path[2048], hex[HASH_HEX_LEN + 1];
  snprintf(path, sizeof path, "%s/incoming/nv_dispi.inf_amd64_bbbb/sub", s.base);
  CHECK(fs_mkdir_p(path, 0755) == 0);
  snprintf(path, sizeof path, "%s/incoming/nv_dispi.inf_amd64_bbbb/nvldumdx.dll", s.base);
  CHECK(fs_write_atomic(path, "umd version B", 13, 0644) == 0);
  snprintf(path, sizeof path, "%s/incoming/nv_dispi.inf_amd64_bbbb/sub/nvcuda64.dll", s.base);
  CHECK(fs_write_atomic(path, "cuda A", 6, 0644) == 0);
  hash_to_hex(b, hex);
  snprintf(path, sizeof path, "%s/incoming.id", s.base);
  CHECK(fs_write_atomic(path, hex, HASH_HEX_LEN, 0644) == 0);
  snprintf(path, sizeof path, "%s/previous", s.base);
  hash_to_hex(a, hex);
  CHECK(fs_write_atomic(path, hex, HASH_HEX_LEN, 0644) == 0);
  snprintf(path, sizeof path, "%s/current", s.base);
  hash_to_hex(b, hex);
  CHECK(fs_write_atomic(path, hex, HASH_HEX_LEN, 0644) == 0);

  /* The next plan finishes the switch before anything else. */
  plan(&s, gen_b, 3);
  check_file(root, "nv_dispi.inf_amd64_bbbb/nvldumdx.dll", "umd version B");
  CHECK(!visible(root, "nv_dispi.inf_amd64_aaaa"));
  snprintf(path, sizeof path, "%s/incoming", s.base);
  CHECK(!fs_exists(path));
}

TEST(unit_win_store_drops_an_uncommitted_switch) {
  const char *root = test_path("System32");
  struct store s;
  CHECK(store_init(&s, root) == 0);
  uint8_t a[HASH_LEN], b[HASH_LEN];
  install(&s, gen_a, 4, a);
  /* prepared for some generation B, but `current` was never written */
  char path[2048], hex[HASH_HEX_LEN + 1];
  memset(b, 0x5a, HASH_LEN);
  hash_to_hex(b, hex);
  snprintf(path, sizeof path, "%s/incoming/nv_dispi.inf_amd64_bbbb", s.base);
  CHECK(fs_mkdir_p(path, 0755) == 0);
  snprintf(path, sizeof path, "%s/incoming.id", s.base);
  CHECK(fs_write_atomic(path, hex, HASH_HEX_LEN, 0644) == 0);
  plan(&s, gen_a, 4);
  CHECK(!visible(root, "nv_dispi.inf_amd64_bbbb"));
  check_file(root, "nv_dispi.inf_amd64_aaaa/nvldumdx.dll", "umd version A");
  snprintf(path, sizeof path, "%s/incoming", s.base);
  CHECK(!fs_exists(path));
}

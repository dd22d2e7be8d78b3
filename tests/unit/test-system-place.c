/* Placing a generation's system files (System32/SysWOW64), on folders of the test's own. */
#include "common/fs.h"
#include "common/hash.h"
#include "guest-agent/system-place.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_text(const char *path, const char *text) {
  CHECK(fs_write_atomic(path, text, strlen(text), 0644) == 0);
}

static char *read_text(const char *path) {
  struct buf b;
  buf_init(&b);
  if (fs_read_file(path, 1 << 20, &b) != 0) {
    buf_done(&b);
    return NULL;
  }
  buf_append(&b, "", 1);
  return (char *)b.data;
}

/* A generation folder holding package "gpu" with the given files, and its manifest (the
 * caller adds the system files). */
static void make_generation(const char *gen, struct manifest *m, const char *const *files,
                            const char *const *contents, size_t n) {
  memset(m, 0, sizeof *m);
  int p;
  CHECK(manifest_add_package(m, "gpu.inf_amd64_1", NULL, NULL, &p) == 0);
  char path[1200];
  snprintf(path, sizeof path, "%s/drivers/gpu.inf_amd64_1", gen);
  CHECK(fs_mkdir_p(path, 0755) == 0);
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/drivers/gpu.inf_amd64_1/%s", gen, files[i]);
    *strrchr(path, '/') = 0;
    CHECK(fs_mkdir_p(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/drivers/gpu.inf_amd64_1/%s", gen, files[i]);
    write_text(path, contents[i]);
    uint8_t sha[HASH_LEN];
    hash_bytes(contents[i], strlen(contents[i]), sha);
    CHECK(manifest_add_file(m, p, files[i], strlen(contents[i]), 0644, sha, ORIGIN_NONE) == 0);
  }
}

static const char *at(const char *folder, const char *name) {
  static char path[4][1200];
  static int next;
  char *out = path[next++ % 4];
  snprintf(out, 1200, "%s/%s", test_path(folder), name);
  return out;
}

TEST(unit_system_files_placed_kept_and_put_back) {
  CHECK(fs_mkdir_p(test_path("System32"), 0755) == 0 &&
        fs_mkdir_p(test_path("SysWOW64"), 0755) == 0);
  CHECK(fs_mkdir_p(test_path("base"), 0755) == 0);
  struct system_place p;
  system_place_init(&p, test_path("System32"), test_path("SysWOW64"), test_path("base"));
  /* the guest's own nvcuda.dll, from before gpupv */
  write_text(at("System32", "nvcuda.dll"), "the guest's own");
  const char *files[] = {"cuda_loader64.dll", "x86/cuda32.dll", "api64.dll"};
  const char *v1[] = {"cuda v1", "cuda32 v1", "api v1"};
  struct manifest a;
  make_generation(test_path("gen-a"), &a, files, v1, 3);
  CHECK(manifest_add_system_file(&a, 0, "cuda_loader64.dll", SYSDIR_SYSTEM32, "nvcuda.dll",
                                 RULE_WHEN_NEWER) == 0);
  CHECK(manifest_add_system_file(&a, 0, "x86/cuda32.dll", SYSDIR_SYSWOW64, "nvcuda.dll",
                                 RULE_OVERWRITE) == 0);
  CHECK(manifest_add_system_file(&a, 0, "api64.dll", SYSDIR_SYSTEM32, "nvapi64.dll",
                                 RULE_OVERWRITE) == 0);
  char note[512] = "";
  CHECK_MSG(system_place_apply(&p, &a, test_path("gen-a"), note, sizeof note) == 0, "%s", note);
  char *t;
  CHECK_EQ_STR((t = read_text(at("System32", "nvcuda.dll"))), "cuda v1");
  free(t);
  CHECK_EQ_STR((t = read_text(at("SysWOW64", "nvcuda.dll"))), "cuda32 v1");
  free(t);
  CHECK_EQ_STR((t = read_text(at("System32", "nvapi64.dll"))), "api v1");
  free(t);
  CHECK(!fs_exists(at("System32", "nvcuda.dll.gpupv-new")));
  CHECK(system_place_pending(&p) == NULL);
  /* again: nothing to do, and the original is still the one kept */
  CHECK(system_place_apply(&p, &a, test_path("gen-a"), note, sizeof note) == 0);
  CHECK_EQ_STR((t = read_text(at("base", "system-saved/System32/nvcuda.dll"))), "the guest's own");
  free(t);

  /* B drops nvapi64.dll (placed over nothing: it goes) and the SysWOW64 one, which someone
   * replaced since (it stays), and brings a new nvcuda.dll */
  write_text(at("SysWOW64", "nvcuda.dll"), "an admin's copy");
  const char *v2[] = {"cuda v2", "cuda32 v2", "api v2"};
  struct manifest b;
  make_generation(test_path("gen-b"), &b, files, v2, 3);
  CHECK(manifest_add_system_file(&b, 0, "cuda_loader64.dll", SYSDIR_SYSTEM32, "nvcuda.dll",
                                 RULE_WHEN_NEWER) == 0);
  CHECK(system_place_apply(&p, &b, test_path("gen-b"), note, sizeof note) == 0);
  CHECK_EQ_STR((t = read_text(at("System32", "nvcuda.dll"))), "cuda v2");
  free(t);
  CHECK(!fs_exists(at("System32", "nvapi64.dll")));
  CHECK_EQ_STR((t = read_text(at("SysWOW64", "nvcuda.dll"))), "an admin's copy");
  free(t);

  /* a generation without system files (a rollback to before them): the original comes back */
  struct manifest none;
  make_generation(test_path("gen-c"), &none, files, v2, 1);
  CHECK(system_place_apply(&p, &none, test_path("gen-c"), note, sizeof note) == 0);
  CHECK_EQ_STR((t = read_text(at("System32", "nvcuda.dll"))), "the guest's own");
  free(t);
  CHECK(!fs_exists(at("base", "system-saved/System32/nvcuda.dll")));
  /* the record is empty: nothing of ours is left in the folders */
  CHECK_EQ_STR((t = read_text(at("base", "system-files"))), "{\"files\":[]}");
  free(t);
  manifest_done(&a);
  manifest_done(&b);
  manifest_done(&none);
}

TEST(unit_system_files_an_unreadable_record_touches_nothing) {
  CHECK(fs_mkdir_p(test_path("System32"), 0755) == 0 && fs_mkdir_p(test_path("base"), 0755) == 0);
  struct system_place p;
  system_place_init(&p, test_path("System32"), test_path("SysWOW64"), test_path("base"));
  write_text(at("System32", "nvcuda.dll"), "the guest's own");
  write_text(at("base", "system-files"), "{\"files\":[{\"folder\":1}]}");
  const char *files[] = {"cuda.dll"}, *v1[] = {"cuda v1"};
  struct manifest a;
  make_generation(test_path("gen-a"), &a, files, v1, 1);
  CHECK(manifest_add_system_file(&a, 0, "cuda.dll", SYSDIR_SYSTEM32, "nvcuda.dll",
                                 RULE_OVERWRITE) == 0);
  char note[512] = "";
  CHECK(system_place_apply(&p, &a, test_path("gen-a"), note, sizeof note) != 0);
  CHECK(strstr(note, "cannot be read"));
  char *t;
  CHECK_EQ_STR((t = read_text(at("System32", "nvcuda.dll"))), "the guest's own");
  free(t);
  manifest_done(&a);
}

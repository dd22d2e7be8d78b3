/* The manifest codec: the committed vector, canonical order, and what a peer may not send. */
#include "common/err.h"
#include "common/fs.h"
#include "proto/manifest.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void read_data(const char *name, struct buf *out) {
  char path[1024];
  buf_init(out);
  snprintf(path, sizeof path, "%s/%s", test_data_dir(), name);
  CHECK_MSG(fs_read_file(path, 1 << 20, out) == 0, "cannot read %s", path);
}

TEST(unit_manifest_vector) {
  struct buf text, id_text;
  read_data("manifest-v1.json", &text);
  read_data("manifest-v1.id", &id_text);
  struct manifest *m;
  const char *reason = NULL;
  CHECK_MSG(manifest_decode(text.data, text.len, &MANIFEST_DEFAULT_LIMITS, &m, &reason) == 0,
            "vector refused: %s", reason);
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(m->id, hex);
  CHECK(strncmp(hex, (char *)id_text.data, HASH_HEX_LEN) == 0);
  CHECK_EQ_INT(m->npackages, 2);
  CHECK_EQ_INT(m->nfiles, 8);
  CHECK_EQ_STR(m->packages[0].vendor, "Intel Corporation");
  CHECK(m->packages[1].version == NULL);
  CHECK_EQ_INT(m->files[7].origin, ORIGIN_PACKAGED);
  CHECK_EQ_INT(manifest_total_size(m), 0 + 11 + 9 + 4 + 4 + 4 + 7 + 5);
  char *dest = manifest_file_dest(m, &m->files[5]);
  CHECK_EQ_STR(dest, "drivers/nv_dispi.inf_amd64_89abcdef/sub/dir/nvcuda.dll");
  free(dest);
  dest = manifest_file_dest(m, &m->files[6]);
  CHECK_EQ_STR(dest, "lib/libcuda.so.1");
  free(dest);
  /* identical content under two names is one blob; the empty file is a blob too */
  struct manifest_blob *blobs;
  size_t n;
  CHECK(manifest_blobs(m, &blobs, &n) == 0);
  CHECK_EQ_INT(n, 7);
  free(blobs);

  /* Built in any order, the encoder produces the same bytes and id. */
  struct manifest b = {0};
  int p1, p0;
  CHECK(manifest_add_package(&b, "nv_dispi.inf_amd64_89abcdef", NULL, NULL, &p1) == 0);
  CHECK(manifest_add_package(&b, "iigd_dch.inf_amd64_0123abcd", "31.0.101.5186",
                             "Intel Corporation", &p0) == 0);
  for (size_t i = m->nfiles; i-- > 0;) {
    const struct manifest_file *f = &m->files[i];
    int pkg = f->package == MANIFEST_LIB ? MANIFEST_LIB : f->package == 0 ? p0 : p1;
    CHECK(manifest_add_file(&b, pkg, f->path, f->size, f->mode, f->sha256, f->origin) == 0);
  }
  struct buf enc;
  buf_init(&enc);
  CHECK(manifest_encode(&b, &enc, NULL) == 0);
  CHECK_EQ_INT(enc.len, text.len);
  CHECK(memcmp(enc.data, text.data, text.len) == 0);
  CHECK(memcmp(b.id, m->id, HASH_LEN) == 0);
  manifest_done(&b);
  manifest_free(m);
  buf_done(&enc);
  buf_done(&text);
  buf_done(&id_text);
}

static const char H[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static int decode(const char *packages, const char *libs, const char **reason) {
  char text[4096];
  snprintf(text, sizeof text, "{\"format\":1,\"packages\":%s,\"libs\":%s}", packages, libs);
  struct manifest *m = NULL;
  int err =
      manifest_decode((const uint8_t *)text, strlen(text), &MANIFEST_DEFAULT_LIMITS, &m, reason);
  manifest_free(m);
  return err;
}

static char *pkg_with(const char *name, const char *path1, const char *path2) {
  static char text[2048];
  char second[512] = "";
  if (path2)
    snprintf(second, sizeof second, ",{\"path\":\"%s\",\"size\":0,\"mode\":420,\"sha256\":\"%s\"}",
             path2, H);
  snprintf(text, sizeof text,
           "[{\"name\":\"%s\",\"version\":null,\"vendor\":null,\"files\":[{\"path\":\"%s\","
           "\"size\":0,\"mode\":420,\"sha256\":\"%s\"}%s]}]",
           name, path1, H, second);
  return text;
}

TEST(unit_manifest_refuses) {
  const char *reason;
  CHECK_EQ_INT(decode(pkg_with("p", "a.dll", NULL), "[]", &reason), 0);
  struct {
    const char *name, *p1, *p2, *why;
  } bad[] = {
      {"p", "../x", NULL, "'.' or '..'"},
      {"p", "/etc/passwd", NULL, "absolute"},
      {"p", "a//b", NULL, "empty"},
      {"p", "a/./b", NULL, "'.' or '..'"},
      {"p", "a/", NULL, "empty"},
      {"..", "a", NULL, "'.' or '..'"},
      {"p/q", "a", NULL, "separator"},
      {"p", "a\\\\b", NULL, "not allowed"},
      {"p", "COM1.dll", NULL, "reserved"},
      {"p", "trail.", NULL, "dot or space"},
      {"p", "A.dll", "a.dll", "differ only in case"},
      {"p", "a.dll", "A.dll", "canonical order"},
      {"p", "a", "a/b", "used as a folder"},
      {"p", "b", "a", "canonical order"},
      {"p", "a", "a", "canonical order"},
      {"p", "caf\xc3", NULL, "not valid UTF-8"},
      {"p\xff", "a", NULL, "not valid UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    reason = NULL;
    int err = decode(pkg_with(bad[i].name, bad[i].p1, bad[i].p2), "[]", &reason);
    CHECK_MSG(err != 0 && reason && strstr(reason, bad[i].why), "%s / %s: got %s (%s)", bad[i].p1,
              bad[i].p2 ? bad[i].p2 : "", reason ? reason : "no reason", gpupv_strerror(err));
  }
  char text[1024];
  snprintf(text, sizeof text, "[{\"path\":\"lib.so\",\"size\":0,\"mode\":420,\"sha256\":\"%s\"}]",
           H);
  CHECK(decode("[]", text, &reason) != 0 && strstr(reason, "origin"));
  snprintf(
      text, sizeof text,
      "[{\"path\":\"lib.so\",\"size\":0,\"mode\":4095,\"sha256\":\"%s\",\"origin\":\"inbox\"}]", H);
  CHECK(decode("[]", text, &reason) != 0);
  snprintf(text, sizeof text,
           "[{\"path\":\"a\",\"size\":1,\"mode\":420,\"sha256\":\"%s\",\"origin\":\"inbox\"},"
           "{\"path\":\"b\",\"size\":2,\"mode\":420,\"sha256\":\"%s\",\"origin\":\"inbox\"}]",
           H, H);
  CHECK(decode("[]", text, &reason) != 0 && strstr(reason, "two sizes"));
  /* not canonical: extra whitespace changes nothing semantically but is refused */
  const char *spaced = "{\"format\":1, \"packages\":[],\"libs\":[]}";
  struct manifest *m = NULL;
  CHECK(manifest_decode((const uint8_t *)spaced, strlen(spaced), &MANIFEST_DEFAULT_LIMITS, &m,
                        &reason) != 0 &&
        strstr(reason, "canonical"));
  const char *future = "{\"format\":2,\"packages\":[],\"libs\":[]}";
  CHECK(manifest_decode((const uint8_t *)future, strlen(future), &MANIFEST_DEFAULT_LIMITS, &m,
                        &reason) != 0);
  /* limits are checked */
  struct manifest_limits tight = MANIFEST_DEFAULT_LIMITS;
  tight.max_files = 1;
  const char *two =
      "{\"format\":1,\"packages\":[],\"libs\":["
      "{\"path\":\"a\",\"size\":0,\"mode\":420,\"sha256\":"
      "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"origin\":\"inbox\"},"
      "{\"path\":\"b\",\"size\":0,\"mode\":420,\"sha256\":"
      "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"origin\":\"inbox\"}]"
      "}";
  CHECK_EQ_INT(manifest_decode((const uint8_t *)two, strlen(two), &tight, &m, &reason),
               GPUPV_ELIMIT);
  CHECK_EQ_INT(
      manifest_decode((const uint8_t *)two, strlen(two), &MANIFEST_DEFAULT_LIMITS, &m, &reason), 0);
  manifest_free(m);
}

/* A manifest of bare numbers would make cJSON build a tree 30 times its size: it is refused by
 * counting values before anything is parsed. */
TEST(unit_manifest_refuses_a_tree_larger_than_its_bytes) {
  size_t n = 1 << 20;
  char *text = malloc(2 * n + 3);
  size_t o = 0;
  text[o++] = '[';
  for (size_t i = 0; i < n; i++) {
    text[o++] = '1';
    text[o++] = ',';
  }
  text[o - 1] = ']';
  struct manifest *m = NULL;
  const char *reason = NULL;
  int err = manifest_decode((const uint8_t *)text, o, &MANIFEST_DEFAULT_LIMITS, &m, &reason);
  CHECK_EQ_INT(err, GPUPV_ELIMIT);
  CHECK(reason && strstr(reason, "more JSON values"));
  CHECK(!m);
  free(text);
}

/* The vector with system files: decoded, re-encoded from parts in any order, and without them
 * it is exactly the format-1 vector, so a guest of the previous release gets what it knows. */
TEST(unit_manifest_system_files_vector) {
  struct buf text, id_text, plain, plain_id;
  read_data("manifest-v1-system.json", &text);
  read_data("manifest-v1-system.id", &id_text);
  read_data("manifest-v1.json", &plain);
  read_data("manifest-v1.id", &plain_id);
  struct manifest *m;
  const char *reason = NULL;
  CHECK_MSG(manifest_decode(text.data, text.len, &MANIFEST_DEFAULT_LIMITS, &m, &reason) == 0,
            "vector refused: %s", reason);
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(m->id, hex);
  CHECK(strncmp(hex, (char *)id_text.data, HASH_HEX_LEN) == 0);
  CHECK_EQ_INT(m->nsystem, 3);
  CHECK_EQ_STR(m->system[1].name, "nvcuda.dll");
  CHECK_EQ_STR(m->system[1].path, "sub/dir/nvcuda.dll");
  CHECK_EQ_INT(m->system[1].rule, RULE_WHEN_NEWER);
  CHECK_EQ_INT(m->system[2].folder, SYSDIR_SYSWOW64);
  CHECK_EQ_STR(m->packages[m->system[2].package].name, "nv_dispi.inf_amd64_89abcdef");
  struct buf legacy;
  buf_init(&legacy);
  uint8_t legacy_id[HASH_LEN];
  CHECK(manifest_encode_without_system(m, &legacy, legacy_id) == 0);
  CHECK_EQ_INT(legacy.len, plain.len);
  CHECK(memcmp(legacy.data, plain.data, plain.len) == 0);
  hash_to_hex(legacy_id, hex);
  CHECK(strncmp(hex, (char *)plain_id.data, HASH_HEX_LEN) == 0);
  /* built in another order, the same bytes */
  struct manifest b = {0};
  int p1, p0;
  CHECK(manifest_add_package(&b, "nv_dispi.inf_amd64_89abcdef", NULL, NULL, &p1) == 0);
  CHECK(manifest_add_package(&b, "iigd_dch.inf_amd64_0123abcd", "31.0.101.5186",
                             "Intel Corporation", &p0) == 0);
  for (size_t i = 0; i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
    int pkg = f->package == MANIFEST_LIB ? MANIFEST_LIB : f->package == 0 ? p0 : p1;
    CHECK(manifest_add_file(&b, pkg, f->path, f->size, f->mode, f->sha256, f->origin) == 0);
  }
  for (size_t i = m->nsystem; i-- > 0;) {
    const struct manifest_system_file *s = &m->system[i];
    CHECK(manifest_add_system_file(&b, s->package == 0 ? p0 : p1, s->path, s->folder, s->name,
                                   s->rule) == 0);
  }
  struct buf enc;
  buf_init(&enc);
  CHECK(manifest_encode(&b, &enc, &reason) == 0);
  CHECK_EQ_INT(enc.len, text.len);
  CHECK(memcmp(enc.data, text.data, text.len) == 0);
  manifest_done(&b);
  manifest_free(m);
  buf_done(&enc);
  buf_done(&legacy);
  buf_done(&text);
  buf_done(&id_text);
  buf_done(&plain);
  buf_done(&plain_id);
}

/* The format-1 vector with a system_files member replaced by text. */
static int decode_system(const char *system, const char **reason) {
  struct buf plain;
  read_data("manifest-v1.json", &plain);
  struct buf text;
  buf_init(&text);
  buf_append(&text, plain.data, plain.len - 1); /* without the closing brace */
  buf_printf(&text, ",\"system_files\":%s}", system);
  struct manifest *m = NULL;
  int err = manifest_decode(text.data, text.len, &MANIFEST_DEFAULT_LIMITS, &m, reason);
  manifest_free(m);
  buf_done(&text);
  buf_done(&plain);
  return err;
}

#define SYS(pkg, path, folder, name, rule)                                                         \
  "{\"package\":\"" pkg "\",\"path\":\"" path "\",\"folder\":\"" folder "\",\"name\":\"" name      \
  "\",\"rule\":\"" rule "\"}"
#define NV "nv_dispi.inf_amd64_89abcdef"

TEST(unit_manifest_refuses_bad_system_files) {
  const char *reason;
  CHECK_EQ_INT(decode_system("[" SYS(NV, "nvapi64.dll", "System32", "nvapi64.dll", "overwrite") "]",
                             &reason),
               0);
  struct {
    const char *system, *why;
  } bad[] = {
      {"[]", "canonical"}, /* an empty list is left out */
      {"{}", "malformed system_files"},
      {"[" SYS("nope", "nvapi64.dll", "System32", "a.dll", "overwrite") "]", "no package"},
      {"[" SYS(NV, "missing.dll", "System32", "a.dll", "overwrite") "]", "not a file of"},
      {"[" SYS(NV, "NVAPI64.DLL", "System32", "a.dll", "overwrite") "]", "not a file of"},
      {"[" SYS(NV, "nvapi64.dll", "System33", "a.dll", "overwrite") "]", "unknown folder"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "a.dll", "sometimes") "]", "unknown folder or rule"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "..", "overwrite") "]", "'.' or '..'"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "sub/a.dll", "overwrite") "]", "separator"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "COM1", "overwrite") "]", "reserved"},
      {"[" SYS(NV, "../x", "System32", "a.dll", "overwrite") "]", "'.' or '..'"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "b.dll",
               "overwrite") "," SYS(NV, "nvapi64.dll", "System32", "a.dll", "overwrite") "]",
       "canonical order"},
      {"[" SYS(NV, "nvapi64.dll", "SysWOW64", "a.dll",
               "overwrite") "," SYS(NV, "nvapi64.dll", "System32", "a.dll", "overwrite") "]",
       "canonical order"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "A.dll",
               "overwrite") "," SYS(NV, "nvapi64.dll", "System32", "a.dll", "overwrite") "]",
       "differ only in case"},
      {"[{\"package\":\"" NV "\",\"path\":\"nvapi64.dll\"}]", "malformed system file"},
      {"[" SYS(NV, "nvapi64.dll", "System32", "caf\xc3", "overwrite") "]", "UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    reason = NULL;
    int err = decode_system(bad[i].system, &reason);
    CHECK_MSG(err != 0 && reason && strstr(reason, bad[i].why), "%s: got %s (%s)", bad[i].system,
              reason ? reason : "no reason", gpupv_strerror(err));
  }
  /* the same name in System32 and SysWOW64 is two files */
  CHECK_EQ_INT(decode_system("[" SYS(NV, "nvapi64.dll", "System32", "a.dll", "overwrite") "," SYS(
                                 NV, "nvapi64.dll", "SysWOW64", "a.dll", "overwrite") "]",
                             &reason),
               0);
}

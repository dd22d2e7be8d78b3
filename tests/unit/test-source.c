/* The host's source scan and hash cache: an unchanged tree is not read again. */
#include "common/fs.h"
#include "host-agent/inf.h"
#include "host-agent/source.h"
#include "host-agent/system-files.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static struct generation *scan(const char *src, const char *cache) {
  char store[1024], inbox[1024], packaged[1024], err[512];
  snprintf(store, sizeof store, "%s/store", src);
  snprintf(inbox, sizeof inbox, "%s/inbox", src);
  snprintf(packaged, sizeof packaged, "%s/packaged", src);
  struct strlist none = {0};
  struct source_config cfg = {store, &none, inbox, packaged, NULL, cache, NULL, 0, NULL, 0};
  struct generation *g;
  CHECK_MSG(source_scan(&cfg, NULL, &g, err, sizeof err) == 0, "scan: %s", err);
  return g;
}

TEST(unit_hash_cache_skips_unchanged_files) {
  const char *src = test_path("src"), *cache = test_path("hash-cache");
  struct fixture_spec spec = {.seed = 5, .packages = 2, .files_per_package = 30, .small_max = 4000};
  CHECK(fixture_make(src, &spec) == 0);
  struct generation *first = scan(src, cache);
  CHECK(first->stats.bytes_hashed == first->stats.bytes);
  CHECK(first->stats.files > 60);
  struct generation *second = scan(src, cache);
  CHECK_EQ_INT(second->stats.bytes_hashed, 0);
  CHECK_EQ_INT(second->stats.files_hashed, 0);
  CHECK(memcmp(first->m.id, second->m.id, HASH_LEN) == 0);

  /* A file rewritten with the same size but new content is hashed again, and only it. */
  char path[2048];
  snprintf(path, sizeof path, "%s/inbox/libcuda.so.1", src);
  struct stat st;
  CHECK(stat(path, &st) == 0);
  CHECK(fixture_write_file(path, 12345, (uint64_t)st.st_size) == 0);
  struct timespec times[2] = {{0, UTIME_OMIT}, {st.st_mtim.tv_sec + 1, st.st_mtim.tv_nsec}};
  CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
  struct generation *third = scan(src, cache);
  CHECK_EQ_INT(third->stats.files_hashed, 1);
  CHECK(memcmp(third->m.id, second->m.id, HASH_LEN) != 0);

  /* A file whose mtime is not older than the cache is distrusted once, then trusted. */
  struct timespec future[2] = {{0, UTIME_OMIT}, {time(NULL) + 3600, 0}};
  CHECK(utimensat(AT_FDCWD, path, future, 0) == 0);
  struct generation *fourth = scan(src, cache);
  CHECK_EQ_INT(fourth->stats.files_hashed, 1);
  struct generation *fifth = scan(src, cache);
  CHECK_EQ_INT(fifth->stats.files_hashed, 1); /* still in the future: still distrusted */
  generation_unref(first);
  generation_unref(second);
  generation_unref(third);
  generation_unref(fourth);
  generation_unref(fifth);
}

TEST(unit_source_packaged_wins_and_versions) {
  const char *src = test_path("src");
  struct fixture_spec spec = {.seed = 9, .packages = 3, .files_per_package = 8, .small_max = 100};
  CHECK(fixture_make(src, &spec) == 0);
  struct generation *g = scan(src, NULL);
  int d3d12 = 0;
  for (size_t i = 0; i < g->m.nfiles; i++) {
    const struct manifest_file *f = &g->m.files[i];
    if (f->package == MANIFEST_LIB && strcmp(f->path, "libd3d12.so") == 0) {
      d3d12++;
      CHECK_EQ_INT(f->origin, ORIGIN_PACKAGED);
    }
  }
  CHECK_EQ_INT(d3d12, 1);
  CHECK_EQ_INT(g->m.npackages, 3);
  CHECK_EQ_STR(g->m.packages[1].vendor, "NVIDIA");
  CHECK(g->m.packages[1].version && strncmp(g->m.packages[1].version, "31.0.15.", 8) == 0);
  generation_unref(g);
  /* a named package that does not exist is an error that names it */
  char store[1024], err[512];
  snprintf(store, sizeof store, "%s/store", src);
  struct strlist want = {0};
  strlist_add(&want, "nv_missing.inf_amd64_0");
  struct source_config cfg = {store, &want, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0};
  CHECK(source_scan(&cfg, NULL, &g, err, sizeof err) != 0 && strstr(err, "nv_missing"));
  strlist_free(&want);
}

TEST(unit_inf_version) {
  char version[64], vendor[64];
  const char ascii[] =
      "[Version]\r\nSignature=\"$Windows NT$\"\r\nProvider = %ProviderName% ; x\r\n"
      "DriverVer = 07/01/2024, 32.0.15.6094\r\n[Strings]\r\n"
      "ProviderName = \"NVIDIA\"\r\n";
  inf_read_version((const uint8_t *)ascii, strlen(ascii), version, sizeof version, vendor,
                   sizeof vendor);
  CHECK_EQ_STR(version, "32.0.15.6094");
  CHECK_EQ_STR(vendor, "NVIDIA");
  /* UTF-16LE with a BOM, as many vendors ship them */
  const char plain[] = "[version]\r\nProvider=Contoso\r\nDriverVer=01/01/2020,1.2.3.4\r\n";
  uint8_t wide[256];
  size_t n = 0;
  wide[n++] = 0xff, wide[n++] = 0xfe;
  for (size_t i = 0; plain[i]; i++)
    wide[n++] = (uint8_t)plain[i], wide[n++] = 0;
  inf_read_version(wide, n, version, sizeof version, vendor, sizeof vendor);
  CHECK_EQ_STR(version, "1.2.3.4");
  CHECK_EQ_STR(vendor, "Contoso");
  inf_read_version((const uint8_t *)"garbage", 7, version, sizeof version, vendor, sizeof vendor);
  CHECK_EQ_STR(version, "");
  CHECK_EQ_STR(vendor, "");
}

/* A package's INF lists files for VMs: the scan publishes them as system files, unless
 * --system-file gives the list. */
TEST(unit_scan_publishes_the_infs_system_files) {
  const char *src = test_path("src");
  struct fixture_spec spec = {.seed = 6, .packages = 2, .files_per_package = 8, .small_max = 900};
  CHECK(fixture_make(src, &spec) == 0);
  struct generation *g = scan(src, NULL);
  CHECK_EQ_INT(g->m.nsystem, 2);
  const struct manifest_system_file *s = &g->m.system[0];
  CHECK_EQ_STR(s->name, "gpu_runtime64.dll");
  CHECK_EQ_STR(s->path, "shared_runtime.dll");
  CHECK(s->folder == SYSDIR_SYSTEM32 && s->rule == RULE_OVERWRITE);
  CHECK(strncmp(g->m.packages[s->package].name, "nv_dispi.inf_amd64_", 19) == 0);
  s = &g->m.system[1];
  CHECK_EQ_STR(s->name, "gpu_runtime32.dll");
  CHECK(s->folder == SYSDIR_SYSWOW64 && s->rule == RULE_WHEN_NEWER);
  char package[256];
  snprintf(package, sizeof package, "%s", g->m.packages[g->m.system[0].package].name);
  generation_unref(g);

  char store[1024], inbox[1024], packaged[1024], err[512], text[600];
  snprintf(store, sizeof store, "%s/store", src);
  snprintf(inbox, sizeof inbox, "%s/inbox", src);
  snprintf(packaged, sizeof packaged, "%s/packaged", src);
  struct system_file_spec spec1;
  const char *reason;
  snprintf(text, sizeof text, "%s/empty.cat=System32/gpu.cat:when-newer", package);
  CHECK(system_file_parse(text, &spec1, &reason) == 0);
  struct strlist none = {0};
  struct source_config cfg = {store, &none, inbox, packaged, NULL, NULL, &spec1, 1, NULL, 0};
  CHECK_MSG(source_scan(&cfg, NULL, &g, err, sizeof err) == 0, "scan: %s", err);
  CHECK_EQ_INT(g->m.nsystem, 1);
  CHECK_EQ_STR(g->m.system[0].name, "gpu.cat");
  CHECK_EQ_INT(g->m.system[0].rule, RULE_WHEN_NEWER);
  generation_unref(g);
}

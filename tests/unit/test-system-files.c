/* --system-file values, and matching the INF's lists to a package's files. */
#include "common/err.h"
#include "host-agent/system-files.h"
#include "tests/support/test.h"

#include <stdlib.h>
#include <string.h>

TEST(unit_system_file_specs) {
  struct system_file_spec s;
  const char *reason;
  CHECK(system_file_parse("nv.inf_amd64_1/x64/nvapi64.dll=System32/nvapi64.dll", &s, &reason) == 0);
  CHECK_EQ_STR(s.package, "nv.inf_amd64_1");
  CHECK_EQ_STR(s.path, "x64/nvapi64.dll");
  CHECK_EQ_INT(s.folder, SYSDIR_SYSTEM32);
  CHECK_EQ_STR(s.name, "nvapi64.dll");
  CHECK_EQ_INT(s.rule, RULE_OVERWRITE);
  CHECK(system_file_parse("p/a.dll=syswow64/b.dll:when-newer", &s, &reason) == 0);
  CHECK(s.folder == SYSDIR_SYSWOW64 && s.rule == RULE_WHEN_NEWER);
  const char *bad[] = {"p/a.dll",
                       "a.dll=System32/a.dll",
                       "p/a.dll=System/a.dll",
                       "p/a.dll=System32",
                       "p/a.dll=System32/a.dll:sometimes",
                       "p/../a=System32/a",
                       "p/a.dll=System32/..",
                       "p/a.dll=System32/x/y"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(system_file_parse(bad[i], &s, &reason) == GPUPV_EUSAGE, "%s accepted", bad[i]);
}

static const uint8_t H[HASH_LEN] = {1};

TEST(unit_system_files_match_package_files) {
  struct manifest m = {0};
  int p;
  CHECK(manifest_add_package(&m, "gpu.inf_amd64_1", NULL, NULL, &p) == 0);
  CHECK(manifest_add_file(&m, p, "x64/GpuApi64.dll", 1, 0644, H, ORIGIN_NONE) == 0);
  CHECK(manifest_add_file(&m, p, "cuda.dll", 1, 0644, H, ORIGIN_NONE) == 0);
  CHECK(manifest_add_file(&m, p, "a/dup.dll", 1, 0644, H, ORIGIN_NONE) == 0);
  CHECK(manifest_add_file(&m, p, "b/dup.dll", 1, 0644, H, ORIGIN_NONE) == 0);
  struct inf_copy list[] = {
      {"x64/gpuapi64.dll", "gpuapi64.dll", 0, 0}, /* case differs: Windows would find it */
      {"cuda.dll", "nvcuda.dll", 0, 1},           /* renamed */
      {"GpuApi64.dll", "gpuapi64.dll", 1, 0},     /* by its name alone, for SysWOW64 */
      {"dup.dll", "dup.dll", 0, 0},               /* two files with that name: which? */
      {"missing.dll", "missing.dll", 0, 0},
      {"cuda.dll", "NVCUDA.dll", 0, 0}, /* a destination already taken keeps the first */
  };
  size_t missing;
  CHECK(system_files_from_inf(&m, p, list, 6, &missing) == 0);
  CHECK_EQ_INT(missing, 2);
  CHECK_EQ_INT(m.nsystem, 3);
  CHECK_EQ_STR(m.system[0].path, "x64/GpuApi64.dll");
  CHECK_EQ_STR(m.system[1].name, "nvcuda.dll");
  CHECK_EQ_INT(m.system[1].rule, RULE_WHEN_NEWER);
  CHECK_EQ_INT(m.system[2].folder, SYSDIR_SYSWOW64);
  struct buf enc;
  buf_init(&enc);
  const char *reason = NULL;
  CHECK_MSG(manifest_encode(&m, &enc, &reason) == 0, "%s", reason);
  buf_done(&enc);
  /* a spec naming what is not there is an error that says which */
  struct system_file_spec spec;
  char err[256];
  CHECK(system_file_parse("gpu.inf_amd64_1/nope.dll=System32/nope.dll", &spec, &reason) == 0);
  CHECK(system_files_from_specs(&m, &spec, 1, err, sizeof err) != 0 && strstr(err, "no such file"));
  CHECK(system_file_parse("other/cuda.dll=System32/x.dll", &spec, &reason) == 0);
  CHECK(system_files_from_specs(&m, &spec, 1, err, sizeof err) != 0 &&
        strstr(err, "no such package"));
  manifest_done(&m);
}

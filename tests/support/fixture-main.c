/* gpupv-fixture: writes a driver-like sample source tree (for the demo and the benchmark). */
#include "common/options.h"
#include "tests/support/fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int main(int argc, char **argv) {
  long seed = 1, files = 40, big = 2, big_mib = 1, packages = 3;
  int help = 0, bump = 0, msix = 0;
  const struct opt opts[] = {
      {"seed", 0, OPT_INT, &seed, "N", "content seed (default 1)", 0, 1L << 30},
      {"packages", 0, OPT_INT, &packages, "N", "package folders, 1 to 3 (default 3)", 1, 3},
      {"files", 0, OPT_INT, &files, "N", "small files per package (default 40)", 0, 100000},
      {"big-files", 0, OPT_INT, &big, "N", "large files per package (default 2)", 0, 10000},
      {"big-mib", 0, OPT_INT, &big_mib, "MIB", "upper size of a large file (default 1)", 1, 4096},
      {"bump", 0, OPT_FLAG, &bump, NULL, "apply a driver update to an existing tree", 0, 0},
      {"msix", 0, OPT_FLAG, &msix, NULL, "also write DIR/wsl.msix and DIR/wsl.msixbundle", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next;
  if (options_parse(opts, argc, argv, 1, &next, err, sizeof err) || (!help && next != argc - 1)) {
    fprintf(stderr, "gpupv-fixture: %s\n", next == argc - 1 ? err : "give one folder (see --help)");
    return 2;
  }
  if (help) {
    printf("Usage: gpupv-fixture [OPTIONS] DIR\n\nWrites DIR/store (DriverStore-like packages), "
           "DIR/inbox and DIR/packaged (WSL libraries).\n\n");
    options_print_help(stdout, opts);
    return 0;
  }
  const char *dir = argv[next];
  int rc;
  if (bump) {
    char renamed[256];
    rc = fixture_bump(dir, (uint32_t)seed, renamed, sizeof renamed);
    if (!rc)
      printf("renamed a package to %s\n", renamed);
  } else {
    struct fixture_spec spec = {
        (uint32_t)seed,          (int)packages,          (int)files, 64 * 1024, (int)big,
        (uint64_t)big_mib << 19, (uint64_t)big_mib << 20};
    rc = fixture_make(dir, &spec);
  }
  if (!rc && msix) {
    char packaged[1024], m[1024], b[1024];
    snprintf(packaged, sizeof packaged, "%s/packaged", dir);
    snprintf(m, sizeof m, "%s/wsl.msix", dir);
    snprintf(b, sizeof b, "%s/wsl.msixbundle", dir);
    rc = fixture_make_msix(packaged, m, b);
  }
  if (rc) {
    fprintf(stderr, "gpupv-fixture: %s: %s\n", dir, uv_strerror(rc));
    return 1;
  }
  return 0;
}

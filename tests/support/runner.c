#include "tests/support/test.h"

#include "common/fs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_TESTS 256

static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static char dir[1024];
static char *paths[1024];
static int npaths;

void test_register(const char *name, test_fn fn) {
  if (ntests < MAX_TESTS) {
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
  }
}

void test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: FAILED: ", file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (dir[0])
    fprintf(stderr, "test folder kept: %s\n", dir);
  fflush(stderr);
  exit(1);
}

const char *test_dir(void) {
  if (!dir[0]) {
    const char *base = getenv("GPUPV_TEST_TMP");
    char tmp[900];
    size_t n = sizeof tmp;
    if (!(base && *base) && uv_os_tmpdir(tmp, &n) == 0)
      base = tmp;
    char pattern[1000];
    snprintf(pattern, sizeof pattern, "%s/gpupv-test-XXXXXX", base && *base ? base : "/tmp");
    uv_fs_t req;
    if (uv_fs_mkdtemp(NULL, &req, pattern, NULL) != 0)
      test_fail(__FILE__, __LINE__, "cannot make a folder like %s", pattern);
    snprintf(dir, sizeof dir, "%s", req.path);
    uv_fs_req_cleanup(&req);
  }
  return dir;
}

const char *test_path(const char *name) {
  char *p = malloc(strlen(test_dir()) + strlen(name) + 2);
  if (!p)
    abort();
  sprintf(p, "%s/%s", test_dir(), name);
  if (npaths < 1024)
    paths[npaths++] = p; /* lives until the test ends */
  return p;
}

const char *test_data_dir(void) {
  return GPUPV_TEST_DATA;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < ntests; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: gpupv-tests NAME | --list\n");
    return 2;
  }
  for (int i = 0; i < ntests; i++) {
    if (strcmp(tests[i].name, argv[1]) == 0) {
      setvbuf(stdout, NULL, _IONBF, 0);
      tests[i].fn();
      if (dir[0] && !getenv("GPUPV_TEST_KEEP"))
        fs_remove_tree(dir);
      while (npaths)
        free(paths[--npaths]);
      printf("%s: passed\n", argv[1]);
      return 0;
    }
  }
  fprintf(stderr, "no test named %s\n", argv[1]);
  return 2;
}

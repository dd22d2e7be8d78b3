/* Path checks for names that come from a peer. */
#include "common/err.h"
#include "common/path.h"
#include "tests/support/test.h"

#include <stdlib.h>
#include <string.h>

TEST(unit_path_check) {
  const char *good[] = {"a",
                        "a/b/c.dll",
                        "x64/nvcuda.dll",
                        "donn\xc3\xa9"
                        "es.bin",
                        ".hidden",
                        "a..b",
                        "console/x",
                        "COM10",
                        "LPT"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    CHECK_MSG(path_check_relative(good[i], NULL) == 0, "refused good path '%s'", good[i]);
  const char *bad[] = {"",          "/abs", "a//b",  "a/",      "./a",  "a/../b",  "..",
                       ".",         "a\\b", "C:x",   "a/b:c",   "con",  "CON.txt", "nul",
                       "com1.dll",  "LPT9", "aux/x", "x/prn.y", "dot.", "space ",  "tab\tname",
                       "new\nline", "q?",   "star*", "pipe|",   "lt<",  "quote\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(path_check_relative(bad[i], NULL) == GPUPV_EPATH, "accepted bad path '%s'", bad[i]);
  char deep[256] = "";
  for (int i = 0; i < PATH_MAX_DEPTH + 1; i++)
    strcat(deep, i ? "/d" : "d");
  const char *reason;
  CHECK(path_check_relative(deep, &reason) == GPUPV_EPATH && strstr(reason, "deep"));
  char *long_path = malloc(PATH_MAX_LEN + 2);
  memset(long_path, 'a', PATH_MAX_LEN + 1);
  long_path[PATH_MAX_LEN + 1] = 0;
  CHECK(path_check_relative(long_path, &reason) == GPUPV_EPATH);
  free(long_path);
  CHECK(path_check_component("pkg", NULL) == 0);
  CHECK(path_check_component("a/b", NULL) == GPUPV_EPATH);
  CHECK(path_check_component(NULL, NULL) == GPUPV_EPATH);
  CHECK(path_casecmp("ABC.dll", "abc.DLL") == 0);
  CHECK(path_casecmp("abc", "abd") < 0);
  char *j = path_join("/a/", "b");
  CHECK_EQ_STR(j, "/a/b");
  free(j);
}

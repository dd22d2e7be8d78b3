/* Options from the command line and a JSON config file. */
#include "common/err.h"
#include "common/fs.h"
#include "common/options.h"
#include "tests/support/test.h"

#include <string.h>

TEST(unit_options_config_and_flags) {
  char *name = NULL;
  struct strlist list = {0};
  long n = 5;
  int flag = 0;
  const struct opt opts[] = {
      {"driver-store", 0, OPT_STRING, &name, "DIR", "", 0, 0},
      {"listen", 'l', OPT_LIST, &list, "URI", "", 0, 0},
      {"max-rate", 0, OPT_INT, &n, "N", "", 0, 100},
      {"no-auto-push", 0, OPT_FLAG, &flag, NULL, "", 0, 0},
      {0},
  };
  const char *cfg = test_path("cfg.json");
  const char *json = "{\"driver_store\":\"/a\",\"listen\":[\"unix:/x\",\"unix:/y\"],"
                     "\"max-rate\":7,\"no_auto_push\":true}";
  CHECK(fs_write_atomic(cfg, json, strlen(json), 0644) == 0);
  char err[256];
  CHECK(options_load_config(opts, cfg, err, sizeof err) == 0);
  CHECK_EQ_STR(name, "/a");
  CHECK_EQ_INT(list.n, 2);
  CHECK_EQ_INT(n, 7);
  CHECK_EQ_INT(flag, 1);
  char *argv[] = {"prog", "--driver-store=/b", "-l", "unix:/z", "--max-rate", "9", NULL};
  int next;
  CHECK(options_parse(opts, 6, argv, 0, &next, err, sizeof err) == 0);
  CHECK_EQ_STR(name, "/b");
  CHECK_EQ_INT(list.n, 1); /* the command line replaces the file's list */
  CHECK_EQ_STR(list.items[0], "unix:/z");
  CHECK_EQ_INT(n, 9);
  char *bad1[] = {"prog", "--max-rate", "101", NULL};
  CHECK(options_parse(opts, 3, bad1, 0, &next, err, sizeof err) == GPUPV_EUSAGE);
  CHECK(strstr(err, "--max-rate"));
  char *bad2[] = {"prog", "--nope", NULL};
  CHECK(options_parse(opts, 2, bad2, 0, &next, err, sizeof err) == GPUPV_EUSAGE);
  char *bad3[] = {"prog", "--listen", NULL};
  CHECK(options_parse(opts, 2, bad3, 0, &next, err, sizeof err) == GPUPV_EUSAGE);
  const char *wrong = "{\"max_rate\":\"fast\"}";
  CHECK(fs_write_atomic(cfg, wrong, strlen(wrong), 0644) == 0);
  CHECK(options_load_config(opts, cfg, err, sizeof err) == GPUPV_ECONFIG &&
        strstr(err, "max-rate"));
  const char *unknown = "{\"colour\":1}";
  CHECK(fs_write_atomic(cfg, unknown, strlen(unknown), 0644) == 0);
  CHECK(options_load_config(opts, cfg, err, sizeof err) == GPUPV_ECONFIG && strstr(err, "colour"));
  CHECK(options_load_config(opts, test_path("missing.json"), err, sizeof err) == GPUPV_ECONFIG);
  options_free(opts);
}

/* The three programs' command lines: help, version, and one-line errors with exit code 2. */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
  CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
  return fd;
}

/* 1 once the peer closes fd (whatever it sent first), 0 when timeout_ms passes first. */
static int wait_closed(int fd, int timeout_ms) {
  for (;;) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) != 1)
      return 0;
    char chunk[4096];
    if (read(fd, chunk, sizeof chunk) <= 0)
      return 1;
  }
}

TEST(e2e_cli_help_and_errors) {
  const char *programs[] = {"gpupv-hostd", "gpupv-guestd", "gpupv"};
  for (int i = 0; i < 3; i++) {
    struct buf out, err;
    char *help[] = {(char *)programs[i], "--help", NULL};
    CHECK_EQ_INT(agents_run(help, &out, &err), 0);
    CHECK_MSG(strstr((char *)out.data, "Usage:"), "%s --help has no usage", programs[i]);
    for (char *save = NULL, *line = strtok_r((char *)out.data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
      CHECK_MSG(strlen(line) <= 80, "%s --help has a line over 80 columns: %s", programs[i], line);
    buf_done(&out);
    buf_done(&err);
    char *version[] = {(char *)programs[i], "--version", NULL};
    CHECK_EQ_INT(agents_run(version, &out, &err), 0);
    CHECK(strstr((char *)out.data, GPUPV_VERSION_TEXT));
    buf_done(&out);
    buf_done(&err);
    char *unknown[] = {(char *)programs[i], "--frobnicate", NULL};
    agents_expect_usage_error(unknown, "--frobnicate");
  }
  char *no_source[] = {"gpupv-hostd", "--listen", "unix:/tmp/x.sock", NULL};
  agents_expect_usage_error(no_source, "nothing to publish");
  char *discover[] = {"gpupv-hostd", "--discover", NULL};
  agents_expect_usage_error(discover, "--discover needs a Windows host");
  char *bad_uri[] = {"gpupv-hostd", "--lib-inbox", "/tmp", "--listen", "udp://x", NULL};
  agents_expect_usage_error(bad_uri, "udp://x");
  char *bad_rate[] = {"gpupv-hostd", "--lib-inbox", "/tmp", "--max-rate", "fast", NULL};
  agents_expect_usage_error(bad_rate, "--max-rate");
  const char *cfg = test_path("bad.json");
  CHECK(fs_write_atomic(cfg, "{\n  \"listen\": 5}", 16, 0644) == 0);
  char *bad_cfg[] = {"gpupv-hostd", "--config", (char *)cfg, NULL};
  agents_expect_usage_error(bad_cfg, "bad.json:2:3: config key \"listen\"");
  CHECK(fs_write_atomic(cfg, "{not json", 9, 0644) == 0);
  char *bad_cfg2[] = {"gpupv-guestd", "--config", (char *)cfg, NULL};
  agents_expect_usage_error(bad_cfg2, "not a JSON object");
  char *bad_root[] = {"gpupv-guestd", "--root", "relative/dir", NULL};
  agents_expect_usage_error(bad_root, "--root");
  char *help_cmd[] = {"gpupv", "help", "push", NULL};
  struct buf hout, herr;
  CHECK_EQ_INT(agents_run(help_cmd, &hout, &herr), 0);
  CHECK(strstr((char *)hout.data, "Usage: gpupv push"));
  buf_done(&hout);
  buf_done(&herr);
  char *bad_cmd[] = {"gpupv", "frobnicate", NULL};
  agents_expect_usage_error(bad_cmd, "frobnicate");
  char *both[] = {"gpupv", "push", "--all", "--guest", "g1", NULL};
  agents_expect_usage_error(both, "--guest");
  /* no host agent: a clear error, exit 1 */
  struct buf out, err;
  char control[1100];
  snprintf(control, sizeof control, "unix:%s", test_path("nobody.sock"));
  char *down[] = {"gpupv", "--control", control, "status", NULL};
  CHECK_EQ_INT(agents_run(down, &out, &err), 1);
  CHECK(strstr((char *)err.data, "cannot reach the host agent"));
  buf_done(&out);
  buf_done(&err);
}

TEST(e2e_config_file_and_manifest) {
  /* The host agent runs from a config file; a flag overrides the file's name. */
  const char *cfg = test_path("hostd.json"), *inbox = agents_make_inbox();
  char json[4096];
  snprintf(json, sizeof json,
           "{\"lib_inbox\":\"%s\",\"state_dir\":\"%s\",\"listen\":[\"%s\"],\"control\":\"%s\","
           "\"name\":\"from-file\"}",
           inbox, test_path("state"), agents_listen_uri(), agents_control_uri());
  CHECK(fs_write_atomic(cfg, json, strlen(json), 0644) == 0);
  struct proc host;
  char *argv[] = {"gpupv-hostd", "--config", (char *)cfg, "--name", "from-flag", NULL};
  proc_start_daemon(&host, test_path("host.log"), argv);
  cJSON *status = agents_status();
  CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "name")->valuestring,
               "from-flag");
  cJSON_Delete(status);
  struct buf out, err;
  char *manifest[] = {"gpupv",    "--control", (char *)agents_control_uri(),
                      "manifest", "--json",    NULL};
  CHECK_EQ_INT(agents_run(manifest, &out, &err), 0);
  cJSON *m = cJSON_ParseWithLength((char *)out.data, out.len);
  CHECK(m);
  const cJSON *lib = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "libs"), 0);
  CHECK_EQ_STR(cJSON_GetObjectItem(lib, "path")->valuestring, "libcuda.so.1");
  CHECK_EQ_STR(cJSON_GetObjectItem(lib, "origin")->valuestring, "inbox");
  CHECK_EQ_INT(cJSON_GetObjectItem(lib, "mode")->valueint, 0755);
  cJSON_Delete(m);
  buf_done(&out);
  buf_done(&err);
  /* with nobody connected, --all --wait has nothing to wait for; a named guest is an error */
  char *all[] = {"gpupv",  "--control", (char *)agents_control_uri(), "push", "--all",
                 "--wait", NULL};
  CHECK_EQ_INT(agents_run(all, &out, &err), 0);
  CHECK(strstr((char *)out.data, "no guests connected"));
  buf_done(&out);
  buf_done(&err);
  char *named[] = {"gpupv", "--control", (char *)agents_control_uri(), "push", "--guest",
                   "vm9",   NULL};
  CHECK_EQ_INT(agents_run(named, &out, &err), 1);
  CHECK(strstr((char *)err.data, "vm9 is not connected"));
  buf_done(&out);
  buf_done(&err);
  proc_stop(&host);
}

TEST(e2e_host_connection_limits) {
  /* A silent connection is closed after --hello-timeout-ms, and connections past
   * --max-connections are refused, while the guests already in are served. */
  const char *inbox = agents_make_inbox(), *root = test_path("guest1");
  struct proc host, guest;
  char *argv[] = {"gpupv-hostd",
                  "--lib-inbox",
                  (char *)inbox,
                  "--state-dir",
                  (char *)test_path("state"),
                  "--listen",
                  (char *)agents_listen_uri(),
                  "--control",
                  (char *)agents_control_uri(),
                  "--max-connections",
                  "2",
                  "--hello-timeout-ms",
                  "300",
                  NULL};
  proc_start_daemon(&host, test_path("host.log"), argv);
  agents_start_guest(&guest, "g1", root);
  int silent = connect_unix(agents_listen_uri() + 5);
  int refused = connect_unix(agents_listen_uri() + 5); /* the third connection */
  CHECK_MSG(wait_closed(refused, 10000), "a connection past --max-connections was kept");
  CHECK_MSG(wait_closed(silent, 10000), "a silent connection outlived --hello-timeout-ms");
  close(silent);
  close(refused);
  agents_push_ok("g1");
  char *log = proc_read_log(test_path("host.log"));
  CHECK(strstr(log, "no hello within 300 ms") && strstr(log, "already 2 guest connections"));
  free(log);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_installed_configs) {
  /* The configs the package installs are accepted, and the host's turns the dashboard on. */
  char host_cfg[1024], guest_cfg[1024];
  snprintf(host_cfg, sizeof host_cfg, "%s/../../packaging/hostd.json", test_data_dir());
  snprintf(guest_cfg, sizeof guest_cfg, "%s/../../packaging/guestd.json", test_data_dir());
  struct buf text;
  buf_init(&text);
  CHECK(fs_read_file(host_cfg, 1 << 16, &text) == 0);
  cJSON *cfg = cJSON_ParseWithLength((char *)text.data, text.len);
  CHECK_MSG(cJSON_IsString(cJSON_GetObjectItem(cfg, "http")),
            "hostd.json leaves the dashboard off");
  cJSON_Delete(cfg);
  buf_done(&text);
  const char *inbox = agents_make_inbox();
  struct proc host;
  /* the machine's paths and ports are replaced by the test's; the rest comes from the file */
  CHECK(fs_mkdir_p(test_path("store"), 0755) == 0);
  char *host_argv[] = {"gpupv-hostd",
                       "--config",
                       host_cfg,
                       "--driver-store",
                       (char *)test_path("store"),
                       "--lib-inbox",
                       (char *)inbox,
                       "--lib-packaged",
                       (char *)inbox,
                       "--state-dir",
                       (char *)test_path("state"),
                       "--listen",
                       (char *)agents_listen_uri(),
                       "--control",
                       (char *)agents_control_uri(),
                       "--http",
                       "127.0.0.1:0",
                       NULL};
  proc_start_daemon(&host, test_path("host.log"), host_argv);
  cJSON *status = agents_status();
  CHECK(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "dashboard")));
  cJSON_Delete(status);
  proc_stop(&host);
  struct buf out, err;
  char *guest_argv[] = {"gpupv-guestd", "--config", guest_cfg, "--root", (char *)test_path("root"),
                        "--rollback",   NULL};
  /* parsed fine (not 2); nothing to roll back to (1) */
  CHECK_EQ_INT(agents_run(guest_argv, &out, &err), 1);
  CHECK(strstr((char *)err.data, "no previous generation"));
  buf_done(&out);
  buf_done(&err);
}

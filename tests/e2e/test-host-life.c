/*
 * The host agent left alone: bad values refused before anything is made, startup failures
 * that exit 1 with one line, offline guests that survive a restart, failed pushes retried
 * on their own, two guests with one name that do not flap, and `status --watch` while the
 * host goes away.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/peer.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct fixture_spec tiny = {
    .seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};

/* argv of a host publishing inbox, with one flag pair replaced or added. */
static void host_argv(char **argv, const char *inbox, const char *state, const char *flag,
                      const char *value) {
  char *base[] = {"gpupv-hostd",
                  "--lib-inbox",
                  (char *)inbox,
                  "--state-dir",
                  (char *)state,
                  "--listen",
                  (char *)agents_listen_uri(),
                  "--control",
                  (char *)agents_control_uri(),
                  (char *)flag,
                  (char *)value,
                  NULL};
  memcpy(argv, base, sizeof base);
}

TEST(e2e_startup_values_refused_before_side_effects) {
  const char *inbox = agents_make_inbox(), *state = test_path("state");
  static const struct {
    const char *flag, *value, *mention;
  } bad[] = {
      {"--http", "9731", "--http 9731"},
      {"--http", "127.0.0.1:99999", "ADDR:PORT"},
      {"--http", "example.com:80", "numeric address"},
      {"--listen", "tcp://10.1.2.3:18256", "loopback-only"},
      {"--listen", "hvsock://*:18256", "hvsock:// is for Windows"},
      {"--listen", "udp://x", "udp://x"},
      {"--control", "tcp://192.168.1.1:9", "loopback-only"},
      {"--control", "tls://127.0.0.1:9", "local endpoint"},
      {"--control", "vsock://2:5", "local endpoint"},
      {"--max-guests", "10", "--max-guests must be at least --max-connections"},
      {"--retry-max-ms", "50", "--retry-max-ms must be at least --retry-min-ms"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *argv[12];
    host_argv(argv, inbox, state, bad[i].flag, bad[i].value);
    agents_expect_usage_error(argv, bad[i].mention);
    /* refused at parse time: no state folder, no key, no socket */
    CHECK_MSG(!fs_exists(state), "%s %s made the state folder", bad[i].flag, bad[i].value);
    CHECK_MSG(!fs_exists(agents_control_uri() + 5), "%s %s opened the control socket", bad[i].flag,
              bad[i].value);
  }
  char *vm_connect[] = {"gpupv-guestd", "--connect", "vsock://any:18256", NULL};
  agents_expect_usage_error(vm_connect, "needs a CID");
  char *hv_connect[] = {"gpupv-guestd", "--connect", "hvsock://parent:18256", NULL};
  agents_expect_usage_error(hv_connect, "hvsock:// is for Windows");
  char *far_connect[] = {"gpupv-guestd", "--connect", "tcp://10.0.0.1:1", NULL};
  agents_expect_usage_error(far_connect, "loopback-only");
  char *bad_key[] = {"gpupv-guestd", "--connect", "unix:/nowhere", "--host-key", "zz", NULL};
  agents_expect_usage_error(bad_key, "--host-key");
}

TEST(e2e_startup_failures_exit_1) {
  const char *inbox = agents_make_inbox();
  /* a state folder that is a file */
  const char *file = test_path("not-a-dir");
  CHECK(fs_write_atomic(file, "x", 1, 0644) == 0);
  char *argv[12];
  host_argv(argv, inbox, file, "--name", "h");
  agents_expect_exit(argv, 1, "state directory");
  /* a host key that is not a key */
  const char *state = test_path("state");
  CHECK(fs_mkdir_p(state, 0700) == 0);
  CHECK(fs_write_atomic(test_path("state/host-key.pem"), "garbage", 7, 0600) == 0);
  host_argv(argv, inbox, state, "--name", "h");
  agents_expect_exit(argv, 1, "host signing key");
  /* a control socket path in a folder that cannot exist */
  CHECK(fs_mkdir_p(test_path("state2"), 0700) == 0);
  char *busy[] = {"gpupv-hostd",
                  "--lib-inbox",
                  (char *)inbox,
                  "--state-dir",
                  (char *)test_path("state2"),
                  "--listen",
                  (char *)agents_listen_uri(),
                  "--control",
                  "unix:/proc/nope/control.sock",
                  NULL};
  agents_expect_exit(busy, 1, "control socket");
}

TEST(e2e_host_restart_lists_offline_guests) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &tiny) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  char *gen = agents_host_generation();
  proc_stop(&guest);
  proc_stop(&host);
  agents_start_host(&host, src, NULL, NULL);
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK_MSG(g, "the restarted host forgot the offline guest");
  CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(g, "connected")));
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "generation")->valuestring, gen);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  CHECK(cJSON_IsString(cJSON_GetObjectItem(g, "last_seen")));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "last_push"), "ok")));
  cJSON_Delete(status);
  free(gen);
  proc_stop(&host);
}

TEST(e2e_failed_push_is_retried_by_itself) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &tiny) == 0);
  /* the guest cannot install: its target folder's parent is a file */
  CHECK(fs_mkdir_p(test_path("guest1/usr/lib"), 0755) == 0);
  CHECK(fs_write_atomic(test_path("guest1/usr/lib/wsl"), "in the way", 10, 0644) == 0);
  struct proc host, guest;
  char *extra[] = {"--retry-min-ms", "200", "--retry-max-ms", "400", NULL};
  agents_start_host(&host, src, NULL, extra);
  agents_start_guest(&guest, "g1", root);
  cJSON *result = NULL;
  CHECK_MSG(agents_push("g1", &result) == 1, "a push into a blocked root succeeded");
  cJSON_Delete(result);
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "state")->valuestring, "error");
  CHECK_MSG(cJSON_IsString(cJSON_GetObjectItem(g, "next_retry")), "no retry is scheduled");
  cJSON_Delete(status);
  /* the admin clears the way; nobody pushes; the host retries by itself */
  CHECK(fs_unlink(test_path("guest1/usr/lib/wsl")) == 0);
  CHECK_MSG(agents_wait_guest("g1", "in_sync", 1), "the failed push was never retried");
  agents_check_installed(root, src);
  char *log = proc_read_log(test_path("host.log"));
  CHECK(strstr(log, "push failed 1 time; retrying in"));
  free(log);
  proc_stop(&guest);
  proc_stop(&host);
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

TEST(e2e_two_guests_one_name_do_not_flap) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, &tiny) == 0);
  struct proc host, a, b;
  agents_start_host(&host, src, NULL, NULL);
  /* two VMs cloned from one image: the same --name, different roots and states */
  agents_start_guest(&a, "clone", test_path("root-a"));
  char *argv[] = {"gpupv-guestd",
                  "--connect",
                  (char *)agents_listen_uri(),
                  "--root",
                  (char *)test_path("root-b"),
                  "--state-dir",
                  (char *)test_path("state-b"),
                  "--name",
                  "clone",
                  "--retry-max-ms",
                  "300",
                  NULL};
  proc_start(&b, test_path("guest-b.log"), argv, NULL);
  /* the second takes over once, the first comes back, and is refused from then on */
  char *log = NULL;
  for (int i = 0; i < 3000; i++) {
    free(log);
    log = proc_read_log(test_path("host.log"));
    if (count(log, "claims the same identity") >= 5)
      break;
    struct pollfd none;
    poll(&none, 0, 10);
  }
  CHECK_MSG(count(log, "claims the same identity") >= 5, "the clash was never refused:\n%s", log);
  CHECK_MSG(count(log, "replaces the one from") <= 1, "the two guests replace each other:\n%s",
            log);
  free(log);
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "clone");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "connected")));
  const cJSON *conflict = cJSON_GetObjectItem(g, "conflict");
  CHECK_MSG(cJSON_IsObject(conflict), "status does not show the clash");
  CHECK(agents_num(conflict, "refused") >= 5);
  cJSON_Delete(status);
  proc_stop(&b);
  proc_stop(&a);
  proc_stop(&host);
}

/* Reads fd until text appears, within 30 s; fails the test otherwise. */
static void read_until(int fd, struct buf *seen, const char *text) {
  for (;;) {
    if (seen->data && strstr((char *)seen->data, text))
      return;
    struct pollfd pf = {fd, POLLIN, 0};
    CHECK_MSG(poll(&pf, 1, 30000) == 1, "no \"%s\" within 30 s; saw:\n%s", text,
              seen->data ? (char *)seen->data : "");
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    CHECK_MSG(n > 0, "gpupv status --watch ended; saw:\n%s", seen->data ? (char *)seen->data : "");
    buf_append(seen, chunk, (size_t)n);
  }
}

TEST(e2e_status_watch_survives_host_going_away) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, &tiny) == 0);
  struct proc host, watch;
  agents_start_host(&host, src, NULL, NULL);
  char *argv[] = {"gpupv",  "--control", (char *)agents_control_uri(),
                  "status", "--watch",   "--interval",
                  "1",      NULL};
  int fd;
  proc_start(&watch, test_path("watch.log"), argv, &fd);
  struct buf seen;
  buf_init(&seen);
  read_until(fd, &seen, "testhost");
  proc_stop(&host);
  read_until(fd, &seen, "host agent unreachable since");
  /* it keeps trying, and picks the host up again */
  buf_consume(&seen, seen.len);
  agents_start_host(&host, src, NULL, NULL);
  read_until(fd, &seen, "testhost");
  proc_kill(&watch);
  close(fd);
  buf_done(&seen);
  proc_stop(&host);
}

/* A CLI that asks and never reads: its answers pile up, and it is closed after the write
 * timeout instead of growing the host's memory forever. */
TEST(e2e_stalled_control_client_is_closed) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, &tiny) == 0);
  struct proc host;
  char *extra[] = {"--write-timeout-ms", "1000", NULL};
  agents_start_host(&host, src, NULL, extra);
  struct peer p;
  peer_connect_unix(&p, agents_control_uri() + 5);
  for (int i = 0; i < 3000; i++)
    peer_send_msg(&p, msg_new(MSG_GET_STATUS));
  CHECK_MSG(peer_wait_closed(&p, 30000), "a control client that reads nothing is kept");
  peer_close(&p);
  char *log = proc_read_log(test_path("host.log"));
  CHECK(strstr(log, "control client: has read nothing for 1000 ms"));
  free(log);
  cJSON *status = agents_status(); /* and the host still answers */
  cJSON_Delete(status);
  proc_stop(&host);
}

/* systemd's DynamicUser= gives the agent /var/lib/gpupv-hostd as a link into /var/lib/private:
 * a state folder that is a link to a folder is a folder (found in the VM test), one to a file
 * is not. */
TEST(e2e_host_state_dir_may_be_a_link_to_a_folder) {
  CHECK(fixture_make(test_path("src"), &tiny) == 0);
  CHECK(fs_mkdir_p(test_path("private/gpupv-hostd"), 0700) == 0);
  CHECK(symlink("private/gpupv-hostd", test_path("gpupv-hostd")) == 0);
  struct proc host, guest;
  char *extra[] = {"--state-dir", (char *)test_path("gpupv-hostd"), NULL};
  agents_start_host(&host, test_path("src"), NULL, extra);
  agents_start_guest(&guest, "g1", test_path("root"));
  agents_push_ok("g1");
  CHECK(fs_exists(test_path("private/gpupv-hostd/host-key.pem")));
  proc_stop(&guest);
  proc_stop(&host);
  CHECK(fs_exists(test_path("private/gpupv-hostd/guests.json")));
  CHECK(fs_write_atomic(test_path("a-file"), "x", 1, 0644) == 0);
  CHECK(symlink("a-file", test_path("link-to-file")) == 0);
  char inbox[1100];
  snprintf(inbox, sizeof inbox, "%s/inbox", test_path("src"));
  char *argv[16];
  host_argv(argv, inbox, test_path("link-to-file"), NULL, NULL);
  agents_expect_exit(argv, 1, "not a directory");
}

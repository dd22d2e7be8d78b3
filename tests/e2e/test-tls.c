/*
 * tls:// between the real agents on loopback: the guest pins the key the host's certificate
 * carries (the manifest key), the host lists and may allowlist guest keys, and nothing but a
 * TLS 1.3 client gets an answer from a tls:// listener.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "common/text.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

static char tls_uri[64];

/* The host on a small source, listening on its Unix socket and on tls_uri. */
static void make_source(void) {
  const struct fixture_spec spec = {
      .seed = 7, .packages = 2, .files_per_package = 6, .small_max = 4096};
  CHECK(fixture_make(test_path("src"), &spec) == 0);
}

static void start_tls_host(struct proc *host, const char *allowlist) {
  make_source();
  snprintf(tls_uri, sizeof tls_uri, "tls://127.0.0.1:%d", agents_free_port());
  char *extra[] = {"--listen", tls_uri, allowlist ? "--allow-guest-keys" : NULL, (char *)allowlist,
                   NULL};
  agents_start_host(host, test_path("src"), NULL, extra);
}

/* `gpupv-guestd --show-key` for the guest name's state folder: the key's hex. */
static char *guest_key(const char *name) {
  struct buf out, err;
  char *argv[] = {
      "gpupv-guestd", "--state-dir", (char *)agents_guest_state(name), "--name", (char *)name,
      "--show-key",   NULL};
  CHECK(agents_run(argv, &out, &err) == 0);
  CHECK_MSG(out.len > 64 && ((char *)out.data)[64] == ' ', "--show-key printed: %s",
            (char *)out.data);
  char *key = strndup((char *)out.data, 64);
  buf_done(&out);
  buf_done(&err);
  return key;
}

/* Reads path until it holds text (at most 30 s); the text's line, or a failed test. */
static void wait_log(const char *path, const char *text) {
  uint64_t deadline = uv_hrtime() + 30ull * 1000000000;
  for (;;) {
    char *log = proc_read_log(path);
    int found = log && strstr(log, text);
    free(log);
    if (found)
      return;
    CHECK_MSG(uv_hrtime() < deadline, "%s never said '%s'", path, text);
    poll(NULL, 0, 20);
  }
}

static const char *guest_log(const char *name) {
  static char path[1100];
  snprintf(path, sizeof path, "%s/guest-%s.log", test_dir(), name);
  return path;
}

TEST(e2e_tls_guest_installs_and_host_lists_its_key) {
  struct proc host, guest;
  start_tls_host(&host, NULL);
  char *key = guest_key("tg");
  char *extra[] = {"--connect", tls_uri, NULL};
  agents_start_guest_with(&guest, "tg", test_path("root"), extra);
  agents_push_ok("tg");
  agents_check_installed(test_path("root"), test_path("src"));
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "tg");
  const cJSON *k = cJSON_GetObjectItem(g, "key");
  CHECK_MSG(cJSON_IsString(k) && strcmp(k->valuestring, key) == 0,
            "status lists guest key %s, want %s", cJSON_IsString(k) ? k->valuestring : "none", key);
  char want_id[80];
  snprintf(want_id, sizeof want_id, "key:%s", key);
  CHECK(strcmp(cJSON_GetObjectItem(g, "id")->valuestring, want_id) == 0);
  CHECK(strncmp(cJSON_GetObjectItem(g, "transport")->valuestring, "tls:127.0.0.1:", 14) == 0);
  /* the pin is the key the host's certificate and manifests carry */
  struct buf pin;
  buf_init(&pin);
  CHECK(fs_read_file(test_path("guest-state-tg/host-key"), 4096, &pin) == 0);
  const cJSON *host_key = cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "key");
  CHECK_MSG(cJSON_IsString(host_key) && pin.len >= 64 &&
                memcmp(pin.data, host_key->valuestring, 64) == 0,
            "the guest pinned %.64s, the host signs with %s", (char *)pin.data,
            cJSON_IsString(host_key) ? host_key->valuestring : "?");
  buf_done(&pin);
  cJSON_Delete(status);
  free(key);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_tls_wrong_pinned_key_is_refused_before_any_data) {
  struct proc host, guest;
  start_tls_host(&host, NULL);
  char *extra[] = {"--connect", tls_uri, "--host-key",
                   "1111111111111111111111111111111111111111111111111111111111111111", NULL};
  agents_spawn_guest_with(&guest, "wrong", test_path("root"), extra);
  wait_log(guest_log("wrong"), "refused before sending anything");
  /* it tries again, and is refused again: still nothing reaches the host */
  uint64_t deadline = uv_hrtime() + 30ull * 1000000000;
  for (;;) {
    char *log = proc_read_log(guest_log("wrong"));
    const char *first = strstr(log, "refused before sending anything");
    int twice = first && strstr(first + 1, "refused before sending anything");
    free(log);
    if (twice)
      break;
    CHECK_MSG(uv_hrtime() < deadline, "the guest did not try again");
    poll(NULL, 0, 20);
  }
  cJSON *status = agents_status();
  CHECK_MSG(!agents_guest(status, "wrong"), "the host has a record of the refused guest");
  cJSON_Delete(status);
  char *host_log = proc_read_log(test_path("host.log"));
  CHECK_MSG(!strstr(host_log, "\"wrong\""), "the host heard of the guest: %s", host_log);
  free(host_log);
  CHECK(access(test_path("root/usr/lib/wsl"), F_OK) != 0);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_tls_guest_off_the_allowlist_is_refused_until_listed) {
  struct proc host, guest;
  const char *list = test_path("allowed-keys");
  char *other = guest_key("someone-else");
  char text[200];
  snprintf(text, sizeof text, "# guests that may connect\n%s someone-else\n", other);
  CHECK(fs_write_atomic(list, text, strlen(text), 0644) == 0);
  start_tls_host(&host, list);
  char *key = guest_key("tg");
  char *extra[] = {"--connect", tls_uri, NULL};
  agents_spawn_guest_with(&guest, "tg", test_path("root"), extra);
  wait_log(test_path("host.log"), "is not on the allowlist");
  wait_log(guest_log("tg"), "is not on the allowlist");
  cJSON *status = agents_status();
  CHECK_MSG(!agents_guest(status, "tg"), "the host keeps a record of a refused guest");
  cJSON_Delete(status);
  CHECK(access(test_path("root/usr/lib/wsl"), F_OK) != 0);
  /* listed: the next connection is taken, with no restart of either agent */
  snprintf(text, sizeof text, "%s someone-else\n%s tg\n", other, key);
  CHECK(fs_write_atomic(list, text, strlen(text), 0644) == 0);
  CHECK_MSG(agents_wait_guest("tg", "in_sync", 1), "the listed guest never came in sync");
  agents_check_installed(test_path("root"), test_path("src"));
  free(key);
  free(other);
  proc_stop(&guest);
  proc_stop(&host);
}

/* A client speaking our frames without TLS, to a tls:// listener. */
TEST(e2e_tls_listener_answers_plain_tcp_with_nothing) {
  struct proc host;
  start_tls_host(&host, NULL);
  int port = atoi(strrchr(tls_uri, ':') + 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  struct buf frame;
  buf_init(&frame);
  cJSON *hello = msg_new_hello("plain", NULL);
  CHECK(msg_encode(&frame, hello) == 0);
  cJSON_Delete(hello);
  CHECK(write(fd, frame.data, frame.len) == (ssize_t)frame.len);
  buf_done(&frame);
  /* the host closes it; whatever it sent first (a TLS alert) holds no frame of ours */
  uint8_t got[4096];
  size_t n = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_MSG(poll(&p, 1, 30000) == 1, "the host neither answered nor closed");
    ssize_t r = read(fd, got + n, sizeof got - n);
    if (r <= 0)
      break;
    n += (size_t)r;
    CHECK(n < sizeof got);
  }
  close(fd);
  CHECK_MSG(n < FRAME_HEADER_LEN || memcmp(got, "GPPV", 4) != 0,
            "a plain client got a gpupv frame from a tls:// listener");
  CHECK_MSG(n == 0 || got[0] == 21, "the host sent %zu bytes that are not a TLS alert", n);
  cJSON *status = agents_status();
  CHECK(!agents_guest(status, "plain"));
  cJSON_Delete(status);
  proc_stop(&host);
}

TEST(e2e_tls_guest_to_a_plain_listener_never_connects) {
  struct proc host, guest;
  make_source();
  char plain[64];
  snprintf(plain, sizeof plain, "tcp://127.0.0.1:%d", agents_free_port());
  char *host_extra[] = {"--listen", plain, NULL};
  agents_start_host(&host, test_path("src"), NULL, host_extra);
  char tls[64];
  snprintf(tls, sizeof tls, "tls://%s", plain + 6);
  char *guest_extra[] = {"--connect", tls, NULL};
  agents_spawn_guest_with(&guest, "tg", test_path("root"), guest_extra);
  wait_log(guest_log("tg"), "TLS handshake failed");
  wait_log(test_path("host.log"), "bad frame magic");
  cJSON *status = agents_status();
  CHECK(!agents_guest(status, "tg"));
  cJSON_Delete(status);
  proc_stop(&guest);
  proc_stop(&host);
}

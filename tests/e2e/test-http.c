/* The host agent's HTTP server: /api/status matches the CLI, /metrics passes promtool, and bad
 * requests neither crash it nor stop it serving guests. */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"
#include "tests/support/web.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOOKS_LIKE_A_SECRET "5eb63bbbe01eeed093cb22bb8f5acdc35eb63bbbe01eeed093cb22bb8f5acdc3"

/* `gpupv dashboard` gives a one-time link; following it sets the session cookie. Returns
 * "gpupv_session=..." (new). */
static char *login_cookie(int port) {
  struct buf out, err;
  char *argv[] = {"gpupv", "--control", (char *)agents_control_uri(), "dashboard", "--json", NULL};
  CHECK_EQ_INT(agents_run(argv, &out, &err), 0);
  cJSON *o = cJSON_ParseWithLength((char *)out.data, out.len);
  const char *url = cJSON_GetObjectItem(o, "url")->valuestring;
  const char *path = strstr(url, "/login?token=");
  CHECK(path);
  char req[512];
  int n =
      snprintf(req, sizeof req,
               "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
  struct buf raw;
  web_exchange(port, req, (size_t)n, &raw);
  CHECK_MSG(strstr((char *)raw.data, " 303 "), "login: %.80s", (char *)raw.data);
  const char *set = strstr((char *)raw.data, "Set-Cookie: gpupv_session=");
  CHECK_MSG(set && strstr(set, "HttpOnly") && strstr(set, "SameSite=Strict"),
            "the session cookie is missing or not HttpOnly and SameSite=Strict");
  char *cookie = strndup(set + strlen("Set-Cookie: "), strlen("gpupv_session=") + 64);
  buf_done(&raw);
  /* the link works once */
  web_exchange(port, req, (size_t)n, &raw);
  CHECK_MSG(strstr((char *)raw.data, " 403 "), "a login link worked twice");
  buf_done(&raw);
  cJSON_Delete(o);
  buf_done(&out);
  buf_done(&err);
  return cookie;
}

/* A local user who is not the administrator may look, not push, and gets no login link. */
static void check_unprivileged_user(int port) {
  if (getuid() != 0)
    return; /* only root can become another user; CI runs as root */
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    if (setgid(65534) || setuid(65534))
      _exit(10);
    struct buf body;
    if (web_get(port, "/api/status", &body) != 200)
      _exit(11);
    buf_done(&body);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /api/push HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                     "Content-Length: 13\r\n\r\n{\"guest\":null}",
                     port);
    struct buf raw;
    web_exchange(port, req, (size_t)n, &raw);
    if (!strstr((char *)raw.data, " 403 "))
      _exit(12);
    /* the control socket is the administrator's: no login link for us */
    struct buf out, err;
    char *argv[] = {"gpupv", "--control", (char *)agents_control_uri(), "dashboard", NULL};
    if (agents_run(argv, &out, &err) != 1 || !strstr((char *)err.data, "permission denied"))
      _exit(13);
    _exit(0);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "as nobody: step %d failed (11: could not look, 12: could push, 13: got a link)",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

TEST(e2e_http_status_and_metrics) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 4, .packages = 2, .files_per_package = 10, .small_max = 900};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *http[] = {"--http", "127.0.0.1:0", NULL};
  agents_start_synced(&host, &guest, src, root, http);
  int port = agents_dashboard_port();

  /* /api/status is the document `gpupv status --json` prints */
  struct buf body;
  CHECK_EQ_INT(web_get(port, "/api/status", &body), 200);
  cJSON *api = cJSON_ParseWithLength((char *)body.data, body.len);
  CHECK_MSG(api, "/api/status is not JSON");
  cJSON *cli = agents_status();
  const char *keys[] = {"generation", "name", "key"};
  for (int i = 0; i < 3; i++)
    CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(api, "host"), keys[i])->valuestring,
                 cJSON_GetObjectItem(cJSON_GetObjectItem(cli, "host"), keys[i])->valuestring);
  const cJSON *g = agents_guest(api, "g1");
  CHECK(g && cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  cJSON_Delete(api);
  cJSON_Delete(cli);
  buf_done(&body);

  /* /metrics passes promtool and says the guest is in sync */
  CHECK_EQ_INT(web_get(port, "/metrics", &body), 200);
  CHECK_MSG(strstr((char *)body.data, "gpupv_guest_in_sync{guest_id=\"name:g1\",guest=\"g1\"} 1"),
            "metrics lack the guest:\n%s", (char *)body.data);
  CHECK(strstr((char *)body.data, "gpupv_host_packages 2"));
  web_check_metrics(&body);
  buf_done(&body);

  /* unknown paths and methods */
  CHECK_EQ_INT(web_get(port, "/nope", &body), 404);
  buf_done(&body);
  struct buf raw;
  const char post[] = "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                      "close\r\nContent-Length: 3\r\n\r\nabc";
  web_exchange(port, post, sizeof post - 1, &raw);
  CHECK_MSG(strstr((char *)raw.data, " 405 "), "POST /metrics: %s", (char *)raw.data);
  buf_done(&raw);

  /* a push needs an administrator's login, the page's token and, when the browser names one,
   * our own origin */
  char *cookie = login_cookie(port);
  CHECK_EQ_INT(web_get(port, "/", &body), 200);
  CHECK_MSG(strstr((char *)body.data, "name=\"gpupv-admin\" content=\"no\""),
            "a page loaded without the login may push");
  const char *meta = strstr((char *)body.data, "name=\"gpupv-csrf\" content=\"");
  CHECK(meta);
  char token[65];
  snprintf(token, sizeof token, "%.64s", meta + strlen("name=\"gpupv-csrf\" content=\""));
  buf_done(&body);
  char host_ok[64];
  snprintf(host_ok, sizeof host_ok, "127.0.0.1:%d", port);
  struct {
    const char *host, *token, *origin, *cookie, *want;
  } cases[] = {
      {host_ok, token, "http://evil.example", cookie, " 403 "},
      {host_ok, "0000000000000000000000000000000000000000000000000000000000000000", NULL, cookie,
       " 403 "},
      {host_ok, NULL, NULL, cookie, " 403 "},
      {host_ok, token, NULL, NULL, " 403 "},                                 /* not logged in */
      {host_ok, token, NULL, "gpupv_session=" LOOKS_LIKE_A_SECRET, " 403 "}, /* forged cookie */
      {"evil.example:80", token, NULL, cookie, " 403 "},                     /* DNS rebinding */
      {host_ok, token, NULL, cookie, " 202 "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char req[1024], headers[400] = "";
    if (cases[i].token)
      snprintf(headers, sizeof headers, "X-CSRF-Token: %s\r\n", cases[i].token);
    if (cases[i].origin)
      snprintf(headers + strlen(headers), sizeof headers - strlen(headers), "Origin: %s\r\n",
               cases[i].origin);
    if (cases[i].cookie)
      snprintf(headers + strlen(headers), sizeof headers - strlen(headers), "Cookie: %s\r\n",
               cases[i].cookie);
    int n = snprintf(req, sizeof req,
                     "POST /api/push HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s"
                     "Content-Length: 14\r\n\r\n{\"guest\":\"g1\"}",
                     cases[i].host, headers);
    web_exchange(port, req, (size_t)n, &raw);
    CHECK_MSG(raw.len && strstr((char *)raw.data, cases[i].want), "push case %zu: %.60s", i,
              raw.len ? (char *)raw.data : "(no answer)");
    buf_done(&raw);
  }
  free(cookie);
  /* a foreign name is not served at all: a rebinding page cannot even read the status */
  const char rebound[] = "GET /api/status HTTP/1.1\r\nHost: attacker.example\r\nConnection: "
                         "close\r\n\r\n";
  web_exchange(port, rebound, sizeof rebound - 1, &raw);
  CHECK_MSG(strstr((char *)raw.data, " 403 ") && !strstr((char *)raw.data, "generation"),
            "a rebound name was served: %.80s", (char *)raw.data);
  buf_done(&raw);
  check_unprivileged_user(port);
  proc_stop(&guest);
  proc_stop(&host);
}

/* A client that sends its request one byte a second until told to stop. */
struct trickle {
  int fd;
  atomic_int stop;
  atomic_int sent;
};

static void *trickle_main(void *arg) {
  struct trickle *t = arg;
  const char req[] = "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (size_t i = 0; i < sizeof req - 1 && !t->stop; i++) {
    if (send(t->fd, req + i, 1, MSG_NOSIGNAL) != 1)
      break;
    t->sent++;
    struct timespec second = {1, 0};
    nanosleep(&second, NULL); /* the pace of the slow client, not a synchronisation */
  }
  return NULL;
}

TEST(e2e_http_survives_bad_requests) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 8, .packages = 1, .files_per_package = 5, .small_max = 500};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *http[] = {"--http", "127.0.0.1:0", NULL};
  agents_start_host(&host, src, NULL, http);
  int port = agents_dashboard_port();
  struct buf raw;
  /* garbage */
  web_exchange(port, "\x01\x02garbage\r\n\r\n", 13, &raw);
  CHECK_MSG(raw.len == 0 || strstr((char *)raw.data, " 400 "), "garbage got: %.80s",
            (char *)raw.data);
  buf_done(&raw);
  /* a header far over the per-connection memory limit */
  size_t big = 256 * 1024;
  char *req = malloc(big + 128);
  int n = sprintf(req, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
  memset(req + n, 'a', big);
  memcpy(req + n + big, "\r\n\r\n", 4);
  web_exchange(port, req, (size_t)n + big + 4, &raw);
  CHECK_MSG(raw.len == 0 || strstr((char *)raw.data, " 431 ") ||
                strstr((char *)raw.data, " 413 ") || strstr((char *)raw.data, " 400 "),
            "oversized header got: %.80s", (char *)raw.data);
  buf_done(&raw);
  free(req);
  /* a slow client, one byte a second, holds only its own connection */
  struct trickle slow = {.fd = web_connect(port)};
  pthread_t slow_thread;
  CHECK(pthread_create(&slow_thread, NULL, trickle_main, &slow) == 0);
  /* 200 live-event subscribers at once, each getting the current state */
  int fds[200];
  const char sub[] = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (int i = 0; i < 200; i++) {
    fds[i] = web_connect(port);
    CHECK(send(fds[i], sub, sizeof sub - 1, 0) == (ssize_t)(sizeof sub - 1));
  }
  for (int i = 0; i < 200; i++) {
    char head[8192];
    size_t got = 0;
    while (!memmem(head, got, "data: {", 7)) {
      struct pollfd pf = {fds[i], POLLIN, 0};
      CHECK_MSG(poll(&pf, 1, 30000) == 1, "subscriber %d got no event", i);
      ssize_t k = read(fds[i], head + got, sizeof head - got);
      CHECK_MSG(k > 0, "subscriber %d was closed", i);
      got += (size_t)k;
      if (got == sizeof head)
        got = 0; /* keep looking in a fresh window */
    }
  }
  /* still serving HTTP and guests */
  struct buf body;
  CHECK_EQ_INT(web_get(port, "/api/status", &body), 200);
  buf_done(&body);
  agents_start_guest(&guest, "g1", root);
  agents_push_ok("g1");
  agents_check_installed(root, src);
  for (int i = 0; i < 200; i++)
    close(fds[i]);
  slow.stop = 1;
  pthread_join(slow_thread, NULL);
  int sent = atomic_load(&slow.sent);
  CHECK_MSG(sent >= 1 && sent < 40, "the slow client sent %d bytes", sent);
  close(slow.fd);
  proc_stop(&guest);
  proc_stop(&host);
}

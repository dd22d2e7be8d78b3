/* Windows transports under Wine: a framed exchange over a named pipe, and hvsock up to
 * socket() (Wine has no AF_HYPERV). */
#include "common/err.h"
#include "common/platform.h"
#include "net/transport.h"
#include "proto/msg.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>

struct pipe_test {
  struct listener l;
  struct conn *server, *client;
  int got_hello, closed;
};

static int server_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct pipe_test *t = c->owner;
  const char *name = NULL;
  CHECK(type == MSG_HELLO);
  CHECK(msg_get_str_opt(msg, "name", 64, &name) == 0 && name);
  CHECK_EQ_STR(name, "over-a-pipe");
  t->got_hello = 1;
  conn_close(t->client, 0);
  listener_close(&t->l, NULL);
  return 1; /* closes the server side */
}

static void on_closed(struct conn *c, int reason) {
  struct pipe_test *t = c->owner;
  (void)reason;
  t->closed++;
}

static const struct conn_ops server_ops = {server_control, NULL, NULL, on_closed};
static const struct conn_ops client_ops = {NULL, NULL, NULL, on_closed};

static void on_accept(struct listener *l, struct conn *c) {
  struct pipe_test *t = l->owner;
  t->server = c;
  conn_start(c);
}

static void on_connected(struct conn *c, int status) {
  CHECK_MSG(status == 0, "connecting the pipe: %s", uv_strerror(status));
  cJSON *hello = msg_new(MSG_HELLO);
  CHECK(hello);
  cJSON_AddStringToObject(hello, "name", "over-a-pipe");
  conn_start(c);
  CHECK(conn_send_msg(c, hello) == 0);
  cJSON_Delete(hello);
}

TEST(unit_win_named_pipe_exchange) {
  uv_loop_t loop;
  struct pipe_test t;
  memset(&t, 0, sizeof t);
  CHECK(uv_loop_init(&loop) == 0);
  char text[64];
  snprintf(text, sizeof text, "pipe:gpupv-test-%lu", (unsigned long)uv_os_getpid());
  struct uri u;
  CHECK(uri_parse(text, &u, NULL) == 0);
  CHECK_EQ_STR(u.path + strlen(u.path) - strlen(text + 5), text + 5);
  CHECK(strncmp(u.path, "\\\\.\\pipe\\", 9) == 0);
  int err = listener_start(&t.l, &loop, &u, 0, &server_ops, &t, on_accept);
  CHECK_MSG(err == 0, "listening on %s: %s", text, gpupv_strerror(err));
  t.client = conn_new(&loop, u.kind, &client_ops, &t);
  CHECK(t.client && transport_connect(t.client, &u, on_connected) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(t.got_hello);
  CHECK_EQ_INT(t.closed, 2);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST(unit_win_unix_paths_refused) {
  uv_loop_t loop;
  struct listener l;
  struct uri u;
  static const struct conn_ops ops;
  CHECK(uv_loop_init(&loop) == 0);
  CHECK(uri_parse("unix:/run/gpupv/hostd.sock", &u, NULL) == 0);
  CHECK_EQ_INT(listener_start(&l, &loop, &u, 0, &ops, NULL, NULL), GPUPV_EURI);
  CHECK(uri_parse("vsock://any:18256", &u, NULL) == 0);
  CHECK_EQ_INT(listener_start(&l, &loop, &u, 0, &ops, NULL, NULL), UV_ENOTSUP);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST(unit_win_hvsock_up_to_socket) {
  uv_loop_t loop;
  struct listener l;
  struct uri u;
  static const struct conn_ops ops;
  CHECK(uv_loop_init(&loop) == 0);
  CHECK(uri_parse("hvsock://*:18256", &u, NULL) == 0);
  int err = listener_start(&l, &loop, &u, 0, &ops, NULL, NULL);
  if (err == UV_EAFNOSUPPORT || err == UV_EPROTONOSUPPORT || err == UV_EINVAL) {
    /* Wine: WSAEAFNOSUPPORT from socket(AF_HYPERV); the rest needs Hyper-V */
    printf("hvsock socket(): %s, as expected without Hyper-V\n", uv_strerror(err));
  } else {
    CHECK_MSG(err == 0, "hvsock listen: %s", gpupv_strerror(err));
    listener_close(&l, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST(unit_win_platform_defaults) {
  const struct platform_defaults *d = platform_defaults();
  CHECK_EQ_STR(d->control, "pipe:gpupv-hostd");
  CHECK_EQ_STR(d->guest_connect, "hvsock://parent:18256");
  CHECK_EQ_STR(d->host_listen, "hvsock://*:18256");
  /* System32, as GetSystemDirectory says; Wine's is C:\windows\system32 */
  size_t n = strlen(d->guest_root);
  CHECK(n > 8);
  CHECK(d->guest_root[1] == ':');
  CHECK_MSG(strcmp(d->guest_root + n - 8, "system32") == 0 ||
                strcmp(d->guest_root + n - 8, "System32") == 0,
            "guest root %s", d->guest_root);
}

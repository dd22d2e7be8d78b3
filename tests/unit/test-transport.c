/* Addresses: URI parsing, the vsock port <-> Hyper-V service GUID mapping, and a vsock
 * listener up to listen() (never a connect: the machine's vsock device is not ours). */
#include "common/err.h"
#include "net/service-id.h"
#include "net/transport.h"
#include "net/uri.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>

TEST(unit_uri_parse) {
  struct uri u;
  const char *reason;
  CHECK(uri_parse("unix:/run/gpupv/hostd.sock", &u, NULL) == 0 && u.kind == URI_UNIX);
  CHECK_EQ_STR(u.path, "/run/gpupv/hostd.sock");
  CHECK(uri_parse("/run/gpupv/hostd.sock", &u, NULL) == 0 && u.kind == URI_UNIX);
  CHECK_EQ_STR(u.path, "/run/gpupv/hostd.sock");
  CHECK(uri_parse("tcp://127.0.0.1:7000", &u, NULL) == 0 && u.kind == URI_TCP && u.port == 7000);
  CHECK_EQ_STR(u.host, "127.0.0.1");
  CHECK(uri_parse("tcp://[::1]:7000", &u, NULL) == 0);
  CHECK_EQ_STR(u.host, "::1");
  CHECK(uri_parse("vsock://2:18256", &u, NULL) == 0 && u.cid == 2 && u.port == 18256);
  CHECK(uri_parse("vsock://any:5", &u, NULL) == 0 && u.cid == URI_VSOCK_CID_ANY);
  CHECK(uri_parse("vsock://-1:0x7fffffff", &u, NULL) == 0 && u.port == 0x7fffffff);
  CHECK(uri_parse("hvsock://parent:18256", &u, NULL) == 0 && u.kind == URI_HVSOCK);
  CHECK(uri_parse("hvsock://*:00004750-facb-11e6-bd58-64006a7986d3", &u, NULL) == 0);
  CHECK_EQ_STR(u.service, "00004750-facb-11e6-bd58-64006a7986d3");
  const char *bad[] = {"",
                       "unix:",
                       "http://x",
                       "tcp://127.0.0.1",
                       "tcp://127.0.0.1:99999",
                       "tcp://:80",
                       "vsock://2:0x80000000",
                       "vsock://x:1",
                       "vsock://2:-1",
                       "hvsock://parent"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(uri_parse(bad[i], &u, &reason) == GPUPV_EURI, "accepted '%s'", bad[i]);
}

TEST(unit_service_id_mapping) {
  struct guid g;
  char text[GUID_TEXT_LEN + 1];
  CHECK(service_id_from_port(18256, &g) == 0);
  guid_format(&g, text);
  CHECK_EQ_STR(text, "00004750-facb-11e6-bd58-64006a7986d3");
  CHECK(service_id_from_port(0x7fffffff, &g) == 0);
  guid_format(&g, text);
  CHECK_EQ_STR(text, "7fffffff-facb-11e6-bd58-64006a7986d3");
  CHECK_EQ_INT(service_id_from_port(0x80000000u, &g), GPUPV_EURI);
  uint32_t port;
  CHECK(guid_parse("{00000405-FACB-11E6-BD58-64006A7986D3}", &g) == 0);
  CHECK(service_id_to_port(&g, &port) == 0 && port == 0x405);
  CHECK(guid_parse("00000405-facb-11e6-bd58-64006a7986d4", &g) == 0);
  CHECK_EQ_INT(service_id_to_port(&g, &port), GPUPV_EURI);
  CHECK(service_id_vm("parent", &g) == 0 && guid_equal(&g, &GUID_HV_PARENT));
  guid_format(&GUID_HV_PARENT, text);
  CHECK_EQ_STR(text, "a42e7cda-d03f-480c-9cc2-a4de20abb878");
  guid_format(&GUID_HV_CHILDREN, text);
  CHECK_EQ_STR(text, "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd");
  guid_format(&GUID_HV_LOOPBACK, text);
  CHECK_EQ_STR(text, "e0e16197-dd56-4a10-9195-5ee7a155a838");
  CHECK(service_id_vm("*", &g) == 0 && guid_equal(&g, &GUID_HV_WILDCARD));
  CHECK(service_id_vm("not-a-guid", &g) == GPUPV_EURI);
  CHECK(guid_parse("00000405-facb-11e6-bd58-64006a7986dZ", &g) == GPUPV_EURI);
  /* parse and format are inverses */
  CHECK(guid_parse("0123abcd-4567-89ef-0123-456789abcdef", &g) == 0);
  guid_format(&g, text);
  CHECK_EQ_STR(text, "0123abcd-4567-89ef-0123-456789abcdef");
}

static void on_accept(struct listener *l, struct conn *c) {
  (void)l;
  conn_close(c, 0);
}

TEST(unit_hv_address) {
  struct uri u;
  struct hv_address a;
  char text[GUID_TEXT_LEN + 1], id[64];
  /* the host listens on the wildcard VM id; the port maps to the vsock template GUID */
  CHECK(uri_parse("hvsock://*:18256", &u, NULL) == 0);
  CHECK(hv_address_from_uri(&u, &a) == 0);
  CHECK_EQ_INT(a.family, 34);
  CHECK_EQ_INT(a.reserved, 0);
  CHECK(guid_equal(&a.vm_id, &GUID_HV_WILDCARD));
  guid_format(&a.service_id, text);
  CHECK_EQ_STR(text, "00004750-facb-11e6-bd58-64006a7986d3");
  /* the guest connects to the parent partition */
  CHECK(uri_parse("hvsock://parent:18256", &u, NULL) == 0);
  CHECK(hv_address_from_uri(&u, &a) == 0);
  guid_format(&a.vm_id, text);
  CHECK_EQ_STR(text, "a42e7cda-d03f-480c-9cc2-a4de20abb878");
  /* SOCKADDR_HV's layout: family, reserved, VmId at 4, ServiceId at 20 (36 bytes) */
  CHECK_EQ_INT(sizeof a, 36);
  const uint8_t *raw = (const uint8_t *)&a;
  CHECK(raw[0] == 34 && raw[1] == 0);
  CHECK(raw[4] == 0xda && raw[5] == 0x7c && raw[6] == 0x2e && raw[7] == 0xa4);
  CHECK(raw[20] == 0x50 && raw[21] == 0x47 && raw[22] == 0 && raw[23] == 0);
  /* a service GUID given as is, and a VM by id */
  CHECK(uri_parse("hvsock://5f4c1c2e-7b6d-4a1b-9d2e-3c4b5a697887:"
                  "12345678-facb-11e6-bd58-64006a7986d3",
                  &u, NULL) == 0);
  CHECK(hv_address_from_uri(&u, &a) == 0);
  uint32_t port;
  CHECK(service_id_to_port(&a.service_id, &port) == 0 && port == 0x12345678);
  hv_address_peer_id(&a, id, sizeof id);
  CHECK_EQ_STR(id, "hvsock:5f4c1c2e-7b6d-4a1b-9d2e-3c4b5a697887");
  /* other kinds and bad VM names are refused */
  CHECK(uri_parse("hvsock://nosuchvm:1", &u, NULL) == 0);
  CHECK_EQ_INT(hv_address_from_uri(&u, &a), GPUPV_EURI);
  CHECK(uri_parse("vsock://2:1", &u, NULL) == 0);
  CHECK_EQ_INT(hv_address_from_uri(&u, &a), GPUPV_EURI);
  /* pipe: names */
  CHECK(uri_parse("pipe:gpupv-hostd", &u, NULL) == 0 && u.kind == URI_UNIX);
  CHECK_EQ_STR(u.path, "\\\\.\\pipe\\gpupv-hostd");
  CHECK(uri_parse("pipe:a/b", &u, NULL) == GPUPV_EURI);
  CHECK(uri_parse("pipe:", &u, NULL) == GPUPV_EURI);
}

TEST(unit_vsock_listen_only) {
  uv_loop_t loop;
  struct listener l, tcp;
  struct uri u;
  static const struct conn_ops ops;
  CHECK(uv_loop_init(&loop) == 0);
  CHECK(uri_parse("vsock://any:0x4750", &u, NULL) == 0);
  int err = listener_start(&l, &loop, &u, 0, &ops, NULL, on_accept);
  if (err == UV_EAFNOSUPPORT || err == UV_ENODEV || err == UV_EADDRINUSE || err == UV_ENOTSUP) {
    printf("vsock not available here (%s): listen path not exercised\n", uv_strerror(err));
  } else {
    CHECK_MSG(err == 0, "vsock listen: %s", gpupv_strerror(err));
    listener_close(&l, NULL);
  }
  /* tcp outside loopback is refused: only tls:// leaves the machine */
  CHECK(uri_parse("tcp://0.0.0.0:0", &u, NULL) == 0);
  CHECK_EQ_INT(listener_start(&tcp, &loop, &u, 0, &ops, NULL, on_accept), GPUPV_EURI);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

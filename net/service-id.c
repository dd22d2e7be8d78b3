#include "net/service-id.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>

const struct guid GUID_HV_WILDCARD = {0, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
const struct guid GUID_HV_PARENT = {
    0xa42e7cda, 0xd03f, 0x480c, {0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78}};
const struct guid GUID_HV_CHILDREN = {
    0x90db8b89, 0x0d35, 0x4f79, {0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd}};
const struct guid GUID_HV_LOOPBACK = {
    0xe0e16197, 0xdd56, 0x4a10, {0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38}};

/* The vsock template: xxxxxxxx-facb-11e6-bd58-64006a7986d3. */
static const struct guid vsock_template = {
    0, 0xfacb, 0x11e6, {0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3}};

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int parse_hex(const char *s, int digits, uint64_t *ret) {
  uint64_t v = 0;
  for (int i = 0; i < digits; i++) {
    int d = hex_digit(s[i]);
    if (d < 0)
      return -1;
    v = v << 4 | (uint64_t)d;
  }
  *ret = v;
  return 0;
}

int guid_parse(const char *text, struct guid *ret) {
  size_t len = strlen(text);
  if (len == GUID_TEXT_LEN + 2 && text[0] == '{' && text[len - 1] == '}')
    text++, len -= 2;
  if (len != GUID_TEXT_LEN || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-')
    return GPUPV_EURI;
  uint64_t a, b, c, d, e;
  if (parse_hex(text, 8, &a) || parse_hex(text + 9, 4, &b) || parse_hex(text + 14, 4, &c) ||
      parse_hex(text + 19, 4, &d) || parse_hex(text + 24, 12, &e))
    return GPUPV_EURI;
  struct guid g = {(uint32_t)a, (uint16_t)b, (uint16_t)c, {0}};
  g.data4[0] = (uint8_t)(d >> 8);
  g.data4[1] = (uint8_t)d;
  for (int i = 0; i < 6; i++)
    g.data4[2 + i] = (uint8_t)(e >> (40 - 8 * i));
  *ret = g;
  return 0;
}

void guid_format(const struct guid *g, char ret[GUID_TEXT_LEN + 1]) {
  snprintf(ret, GUID_TEXT_LEN + 1, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", g->data1,
           g->data2, g->data3, g->data4[0], g->data4[1], g->data4[2], g->data4[3], g->data4[4],
           g->data4[5], g->data4[6], g->data4[7]);
}

int guid_equal(const struct guid *a, const struct guid *b) {
  return a->data1 == b->data1 && a->data2 == b->data2 && a->data3 == b->data3 &&
         memcmp(a->data4, b->data4, 8) == 0;
}

int service_id_from_port(uint32_t port, struct guid *ret) {
  if (port > 0x7fffffff)
    return GPUPV_EURI;
  *ret = vsock_template;
  ret->data1 = port;
  return 0;
}

int service_id_to_port(const struct guid *g, uint32_t *ret_port) {
  struct guid t = *g;
  t.data1 = 0;
  if (!guid_equal(&t, &vsock_template) || g->data1 > 0x7fffffff)
    return GPUPV_EURI;
  *ret_port = g->data1;
  return 0;
}

int service_id_vm(const char *name, struct guid *ret) {
  if (strcmp(name, "parent") == 0)
    *ret = GUID_HV_PARENT;
  else if (strcmp(name, "*") == 0 || strcmp(name, "any") == 0)
    *ret = GUID_HV_WILDCARD;
  else if (strcmp(name, "children") == 0)
    *ret = GUID_HV_CHILDREN;
  else if (strcmp(name, "loopback") == 0)
    *ret = GUID_HV_LOOPBACK;
  else
    return guid_parse(name, ret);
  return 0;
}

int hv_address_from_uri(const struct uri *uri, struct hv_address *ret) {
  memset(ret, 0, sizeof *ret);
  if (uri->kind != URI_HVSOCK)
    return GPUPV_EURI;
  ret->family = HV_AF_HYPERV;
  int err = service_id_vm(uri->host, &ret->vm_id);
  if (!err)
    err = *uri->service ? guid_parse(uri->service, &ret->service_id)
                        : service_id_from_port(uri->port, &ret->service_id);
  return err;
}

void hv_address_peer_id(const struct hv_address *a, char *ret, size_t size) {
  char vm[GUID_TEXT_LEN + 1];
  guid_format(&a->vm_id, vm);
  snprintf(ret, size, "hvsock:%s", vm);
}

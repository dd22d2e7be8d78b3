/*
 * A stand-in for libdxcore.so, built by the test suite and published as a packaged library,
 * so that the real guest loads it from its installed lib/ folder. Its answers are scripted by
 * GPUPV_FAKE_DXCORE, ';'-separated: adapters=N (1), package=NAME (the driver-store folder the
 * adapter expects), wddm=N (3100), always_overflow (the path query says "buffer overflow"
 * however large the buffer). The path query answers only a buffer large enough for the path,
 * as dxgkrnl does, so the caller must ask twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct info {
  uint32_t handle, luid_low, luid_high, sources, move;
};
struct enum2 {
  uint32_t n;
  struct info *a;
};
struct query {
  uint32_t handle;
  int32_t type;
  void *data;
  uint32_t size;
};
struct reg { /* D3DDDI_QUERYREGISTRY_INFO's fixed part: the output follows at 544 */
  int32_t type;
  uint32_t flags;
  uint16_t name[260];
  uint32_t value_type, physical, output_size;
  int32_t status;
};

static const char *script(const char *key, char *out, size_t size) {
  const char *s = getenv("GPUPV_FAKE_DXCORE");
  size_t klen = strlen(key);
  for (const char *p = s; p && *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= klen && strncmp(p, key, klen) == 0 && (len == klen || p[klen] == '=')) {
      size_t v = len > klen ? len - klen - 1 : 0;
      snprintf(out, size, "%.*s", (int)v, p + klen + (len > klen));
      return out;
    }
    p = end ? end + 1 : NULL;
  }
  return NULL;
}

int32_t D3DKMTEnumAdapters2(struct enum2 *e) {
  char v[32];
  uint32_t n = script("adapters", v, sizeof v) ? (uint32_t)atoi(v) : 1;
  if (!e->a) {
    e->n = n;
    return 0;
  }
  if (e->n < n)
    return (int32_t)0xC0000023; /* STATUS_BUFFER_TOO_SMALL */
  for (uint32_t i = 0; i < n; i++)
    e->a[i] = (struct info){0x40000000u + i, 0x1000 + i, 0, 1, 0};
  e->n = n;
  return 0;
}

int32_t D3DKMTQueryAdapterInfo(const struct query *q) {
  char v[300];
  if (q->type == 13) { /* KMTQAITYPE_DRIVERVERSION */
    if (q->size < 4)
      return (int32_t)0xC000000D;
    *(int32_t *)q->data = script("wddm", v, sizeof v) ? atoi(v) : 3100;
    return 0;
  }
  if (q->type != 48 || q->size < 552)
    return (int32_t)0xC000000D; /* STATUS_INVALID_PARAMETER */
  struct reg *r = q->data;
  char path[600];
  snprintf(path, sizeof path, "\\SystemRoot\\System32\\HostDriverStore\\FileRepository\\%s",
           script("package", v, sizeof v) ? v : "nv_dispi.inf_amd64_0000");
  size_t len = strlen(path);
  uint32_t need = (uint32_t)(2 * (len + 1));
  r->output_size = need;
  if (script("always_overflow", v, sizeof v) || q->size < 544 + need) {
    r->status = 1; /* D3DDDI_QUERYREGISTRY_STATUS_BUFFER_OVERFLOW */
    return 0;
  }
  uint16_t *out = (uint16_t *)((uint8_t *)q->data + 544);
  for (size_t i = 0; i <= len; i++)
    out[i] = (uint8_t)path[i];
  r->status = 0;
  return 0;
}

int32_t D3DKMTCloseAdapter(const void *c) {
  (void)c;
  return 0;
}

#include "guest-agent/d3dkmt.h"

#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* UTF-16 (from a peer: checked) to UTF-8 in out; "" when it is not valid. */
static void utf16_to_utf8(const uint16_t *in, size_t n, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; i < n && in[i]; i++) {
    uint32_t c = in[i];
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && in[i + 1] >= 0xdc00 && in[i + 1] < 0xe000)
      c = 0x10000 + ((c - 0xd800) << 10) + (in[++i] - 0xdc00);
    else if (c >= 0xd800 && c < 0xe000) {
      out[0] = 0;
      return;
    }
    char b[4];
    int len = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (len == 1)
      b[0] = (char)c;
    else if (len == 2)
      b[0] = (char)(0xc0 | c >> 6), b[1] = (char)(0x80 | (c & 0x3f));
    else if (len == 3)
      b[0] = (char)(0xe0 | c >> 12), b[1] = (char)(0x80 | ((c >> 6) & 0x3f)),
      b[2] = (char)(0x80 | (c & 0x3f));
    else
      b[0] = (char)(0xf0 | c >> 18), b[1] = (char)(0x80 | ((c >> 12) & 0x3f)),
      b[2] = (char)(0x80 | ((c >> 6) & 0x3f)), b[3] = (char)(0x80 | (c & 0x3f));
    if (o + (size_t)len + 1 > size)
      break;
    memcpy(out + o, b, (size_t)len);
    o += (size_t)len;
  }
  out[o] = 0;
}

/* The driver-store path of an adapter: asked with the fixed size, then again with the size
 * the answer said it needs. 0, or a one-line reason in why. */
static int driver_store_path(query_fn query, uint32_t handle, char *out, size_t size, char *why,
                             size_t why_size) {
  size_t total = QUERYREGISTRY_SIZE;
  for (int attempt = 0; attempt < 2; attempt++) {
    uint8_t *buf = calloc(1, total);
    if (!buf) {
      snprintf(why, why_size, "out of memory");
      return -1;
    }
    struct kmt_queryregistry *q = (struct kmt_queryregistry *)buf;
    q->query_type = QUERYREGISTRY_DRIVERSTOREPATH;
    struct kmt_queryadapterinfo info = {handle, KMTQAITYPE_QUERYREGISTRY, buf, (uint32_t)total};
    ntstatus st = query(&info);
    int status = q->status;
    uint32_t need = q->output_value_size;
    if (st == 0 && status == QUERYREGISTRY_STATUS_SUCCESS) {
      size_t avail = total - QUERYREGISTRY_OUTPUT_OFFSET;
      size_t chars = (need < avail ? need : avail) / 2;
      utf16_to_utf8((const uint16_t *)(buf + QUERYREGISTRY_OUTPUT_OFFSET), chars, out, size);
      free(buf);
      if (!*out)
        snprintf(why, why_size, "the driver-store path is empty or not valid UTF-16");
      return *out ? 0 : -1;
    }
    free(buf);
    if (st != 0 || status != QUERYREGISTRY_STATUS_BUFFER_OVERFLOW || attempt ||
        need > QUERYREGISTRY_OUTPUT_MAX) {
      snprintf(why, why_size,
               "the driver-store path query failed (NTSTATUS 0x%08x, status %d, %u bytes)",
               (unsigned)st, status, need);
      return -1;
    }
    total = QUERYREGISTRY_OUTPUT_OFFSET + need; /* the size-then-retry dance */
  }
  return -1;
}

/* The last folder of a Windows path: the package folder. */
static void last_folder(const char *path, char *out, size_t size) {
  char copy[1024];
  text_copy(copy, sizeof copy, path);
  size_t n = strlen(copy);
  while (n && (copy[n - 1] == '\\' || copy[n - 1] == '/'))
    copy[--n] = 0;
  const char *slash = strrchr(copy, '\\'), *fwd = strrchr(copy, '/');
  const char *last = !slash || (fwd && fwd > slash) ? fwd : slash;
  text_copy(out, size, last ? last + 1 : copy);
}

void d3dkmt_list(const struct d3dkmt_api *api, cJSON *o) {
  cJSON *list = cJSON_AddArrayToObject(o, "adapters");
  struct kmt_enumadapters2 e = {0, NULL};
  if (!api->enumerate || !api->query || !api->close_adapter) {
    cJSON_AddStringToObject(o, "error",
                            "it lacks D3DKMTEnumAdapters2, D3DKMTQueryAdapterInfo "
                            "or D3DKMTCloseAdapter");
  } else if (api->enumerate(&e) != 0 || e.num_adapters > KMT_ADAPTERS_MAX) {
    cJSON_AddStringToObject(o, "error", "D3DKMTEnumAdapters2 failed to count the adapters");
  } else if (e.num_adapters) {
    /* the count first, then the adapters */
    uint32_t count = e.num_adapters;
    e.adapters = calloc(count, sizeof *e.adapters);
    if (!e.adapters || api->enumerate(&e) != 0 || e.num_adapters > count) {
      cJSON_AddStringToObject(o, "error", "D3DKMTEnumAdapters2 failed to list the adapters");
      e.num_adapters = 0;
    }
  }
  for (uint32_t i = 0; i < e.num_adapters; i++) {
    const struct kmt_adapterinfo *a = &e.adapters[i];
    cJSON *item = cJSON_CreateObject();
    cJSON_AddItemToArray(list, item);
    char luid[32], path[1024], package[300], why[200] = "";
    snprintf(luid, sizeof luid, "%08x:%08x", a->luid_high, a->luid_low);
    cJSON_AddStringToObject(item, "luid", luid);
    int32_t wddm = 0;
    struct kmt_queryadapterinfo v = {a->handle, KMTQAITYPE_DRIVERVERSION, &wddm, sizeof wddm};
    cJSON_AddItemToObject(item, "wddm",
                          api->query(&v) == 0 ? cJSON_CreateNumber(wddm) : cJSON_CreateNull());
    if (driver_store_path(api->query, a->handle, path, sizeof path, why, sizeof why) == 0) {
      last_folder(path, package, sizeof package);
      cJSON_AddStringToObject(item, "driver_store", path);
      cJSON_AddStringToObject(item, "package", package);
      cJSON_AddNullToObject(item, "error");
    } else {
      cJSON_AddNullToObject(item, "driver_store");
      cJSON_AddNullToObject(item, "package");
      cJSON_AddStringToObject(item, "error", why);
    }
    struct kmt_closeadapter c = {a->handle};
    api->close_adapter(&c); /* every adapter the count opened */
  }
  free(e.adapters);
}

#include "host-agent/metrics.h"

#include "common/buf.h"
#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Appends a label value with \, " and newline escaped. */
static void label(struct buf *b, const char *value) {
  for (const char *p = value; *p; p++) {
    if (*p == '\\' || *p == '"')
      buf_printf(b, "\\%c", *p);
    else if (*p == '\n')
      buf_append_str(b, "\\n");
    else
      buf_append(b, p, 1);
  }
}

static void family(struct buf *b, const char *name, const char *type, const char *help) {
  buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A guest's labels: its unique id, then its name (two VMs may share a name). */
static void guest_labels(struct buf *b, const struct guest *g) {
  buf_append_str(b, "guest_id=\"");
  label(b, g->id);
  buf_append_str(b, "\",guest=\"");
  label(b, g->name);
  buf_append_str(b, "\"");
}

/* One sample per guest: name{guest_id="...",guest="..."} value */
static void per_guest(struct buf *b, const struct host_state *h, const char *name, const char *type,
                      const char *help,
                      double (*value)(const struct host_state *, const struct guest *)) {
  family(b, name, type, help);
  for (size_t i = 0; i < h->guests.n; i++) {
    buf_printf(b, "%s{", name);
    guest_labels(b, h->guests.items[i]);
    buf_printf(b, "} %.17g\n", value(h, h->guests.items[i]));
  }
}

static double v_connected(const struct host_state *h, const struct guest *g) {
  (void)h;
  return g->session != NULL;
}

static double v_in_sync(const struct host_state *h, const struct guest *g) {
  return push_in_sync(&h->push, g);
}

static double v_gpu_healthy(const struct host_state *h, const struct guest *g) {
  (void)h;
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g->report, "healthy"));
}

static double v_pushes(const struct host_state *h, const struct guest *g) {
  (void)h;
  return (double)g->pushes_total;
}

static double v_failures(const struct host_state *h, const struct guest *g) {
  (void)h;
  return (double)g->push_failures_total;
}

static double v_bytes(const struct host_state *h, const struct guest *g) {
  (void)h;
  return (double)g->push_bytes_total;
}

static double v_seconds(const struct host_state *h, const struct guest *g) {
  (void)h;
  return (double)g->push_ms_total / 1000.0;
}

static double v_last_seen(const struct host_state *h, const struct guest *g) {
  (void)h;
  return (double)g->last_seen_ms / 1000.0;
}

int metrics_text(const struct host_state *h, char **ret) {
  struct buf b;
  buf_init(&b);
  const struct generation *gen = h->offer.gen;
  family(&b, "gpupv_host_info", "gauge", "The host and the generation it publishes.");
  buf_append_str(&b, "gpupv_host_info{host=\"");
  label(&b, h->cfg->name);
  buf_printf(&b, "\",generation=\"%s\"} 1\n", gen ? gen->id_hex : "");
  family(&b, "gpupv_host_packages", "gauge", "Driver packages in the published generation.");
  buf_printf(&b, "gpupv_host_packages %zu\n", gen ? gen->m.npackages : 0);
  family(&b, "gpupv_host_files", "gauge", "Files in the published generation.");
  buf_printf(&b, "gpupv_host_files %zu\n", gen ? gen->m.nfiles : 0);
  family(&b, "gpupv_host_bytes", "gauge", "Bytes of the published generation.");
  buf_printf(&b, "gpupv_host_bytes %llu\n",
             gen ? (unsigned long long)manifest_total_size(&gen->m) : 0ULL);
  family(&b, "gpupv_host_last_scan_timestamp_seconds", "gauge",
         "When the host last scanned its driver source.");
  buf_printf(&b, "gpupv_host_last_scan_timestamp_seconds %.3f\n", (double)h->scanned_ms / 1000.0);
  family(&b, "gpupv_host_scan_ok", "gauge", "1 when the last scan succeeded.");
  buf_printf(&b, "gpupv_host_scan_ok %d\n", h->scan_error[0] ? 0 : 1);
  family(&b, "gpupv_host_scan_duration_seconds", "gauge",
         "How long the last scan took, its checks that the source had settled included.");
  buf_printf(&b, "gpupv_host_scan_duration_seconds %.3f\n", (double)h->scan_ms / 1000.0);
  family(&b, "gpupv_host_generations_published_total", "counter",
         "Generations published since the agent started.");
  buf_printf(&b, "gpupv_host_generations_published_total %llu\n",
             (unsigned long long)h->generations_published);
  family(&b, "gpupv_host_watched_folders", "gauge",
         "Folders of the source watched for driver updates.");
  buf_printf(&b, "gpupv_host_watched_folders %zu\n", h->watch ? h->watch->nfolders : 0);
  per_guest(&b, h, "gpupv_guest_connected", "gauge", "1 while the guest agent is connected.",
            v_connected);
  per_guest(&b, h, "gpupv_guest_in_sync", "gauge",
            "1 when the guest has the host's generation installed.", v_in_sync);
  per_guest(&b, h, "gpupv_guest_gpu_healthy", "gauge",
            "1 when the guest reports a working GPU-PV device.", v_gpu_healthy);
  family(&b, "gpupv_guest_generation_info", "gauge", "The generation installed in the guest.");
  for (size_t i = 0; i < h->guests.n; i++) {
    const struct guest *g = h->guests.items[i];
    char hex[HASH_HEX_LEN + 1] = "";
    if (g->has_generation)
      hash_to_hex(g->generation, hex);
    buf_append_str(&b, "gpupv_guest_generation_info{");
    guest_labels(&b, g);
    buf_printf(&b, ",generation=\"%s\"} 1\n", hex);
  }
  family(&b, "gpupv_build_info", "gauge", "The version of gpupv-hostd and its protocol.");
  buf_printf(&b, "gpupv_build_info{version=\"%s\",protocol=\"%d\"} 1\n", GPUPV_VERSION,
             PROTO_VERSION);
  size_t pushing = 0;
  for (size_t i = 0; i < h->guests.n; i++)
    pushing += host_guest_busy(h->guests.items[i]) != 0;
  family(&b, "gpupv_pushes_in_flight", "gauge", "Pushes under way now.");
  buf_printf(&b, "gpupv_pushes_in_flight %zu\n", pushing);
  family(&b, "gpupv_guest_check", "gauge",
         "Each GPU check a guest reports: 0 ok, 1 warn, 2 fail (docs/checks.md).");
  for (size_t i = 0; i < h->guests.n; i++) {
    const struct guest *g = h->guests.items[i];
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g->report, "checks")) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
      const cJSON *level = cJSON_GetObjectItemCaseSensitive(c, "level");
      if (!cJSON_IsString(id) || !cJSON_IsString(level))
        continue;
      int value = strcmp(level->valuestring, "ok") == 0     ? 0
                  : strcmp(level->valuestring, "warn") == 0 ? 1
                                                            : 2;
      buf_append_str(&b, "gpupv_guest_check{");
      guest_labels(&b, g);
      buf_append_str(&b, ",check=\"");
      label(&b, id->valuestring);
      buf_printf(&b, "\"} %d\n", value);
    }
  }
  per_guest(&b, h, "gpupv_guest_pushes_total", "counter", "Pushes finished, ok or not.", v_pushes);
  per_guest(&b, h, "gpupv_guest_push_failures_total", "counter", "Pushes that failed.", v_failures);
  per_guest(&b, h, "gpupv_guest_push_bytes_total", "counter", "Content bytes pushed.", v_bytes);
  per_guest(&b, h, "gpupv_guest_push_seconds_total", "counter", "Time spent pushing.", v_seconds);
  per_guest(&b, h, "gpupv_guest_last_seen_timestamp_seconds", "gauge",
            "When the guest was last heard from.", v_last_seen);
  if (!b.data) {
    buf_done(&b);
    return UV_ENOMEM;
  }
  *ret = (char *)buf_steal(&b);
  return 0;
}

#include "host-agent/status.h"

#include "common/text.h"
#include "proto/status-doc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ISO 8601 UTC of ms into out (32 bytes), or NULL for 0 (never). */
static const char *iso_text(uint64_t ms, char *out) {
  if (!ms)
    return NULL;
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

static cJSON *host_json(const struct host_state *h) {
  const struct generation *g = h->offer.gen;
  char scanned[32];
  uint64_t libs = 0;
  for (size_t f = 0; g && f < g->m.nfiles; f++)
    libs += g->m.files[f].package == MANIFEST_LIB;
  const struct status_host_view v = {
      .name = h->cfg->name,
      .key = h->offer.key_hex,
      .dashboard = h->http_url[0] ? h->http_url : NULL,
      .generation = g ? g->id_hex : NULL,
      .last_scan = iso_text(h->scanned_ms, scanned),
      .scan_error = h->scan_error[0] ? h->scan_error : NULL,
      .libs = (double)libs,
      .files = g ? (double)g->m.nfiles : 0,
      .bytes = g ? (double)manifest_total_size(&g->m) : 0,
  };
  cJSON *host = status_doc_host(&v);
  if (!host)
    return NULL;
  cJSON *scan = cJSON_AddObjectToObject(host, "scan");
  cJSON_AddNumberToObject(scan, "files", (double)h->last_scan.files);
  cJSON_AddNumberToObject(scan, "bytes", (double)h->last_scan.bytes);
  cJSON_AddNumberToObject(scan, "files_hashed", (double)h->last_scan.files_hashed);
  cJSON_AddNumberToObject(scan, "bytes_hashed", (double)h->last_scan.bytes_hashed);
  cJSON_AddNumberToObject(scan, "duration_ms", (double)h->scan_ms);
  cJSON_AddNumberToObject(host, "generations_published", (double)h->generations_published);
  cJSON_AddItemToObject(host, "generation_plain",
                        g ? cJSON_CreateString(g->plain_id_hex) : cJSON_CreateNull());
  cJSON_AddNumberToObject(host, "system_files", g ? (double)g->m.nsystem : 0);
  cJSON *watch = cJSON_AddObjectToObject(host, "watch");
  cJSON_AddBoolToObject(watch, "enabled", h->watch != NULL);
  cJSON_AddNumberToObject(watch, "folders", h->watch ? (double)h->watch->nfolders : 0);
  cJSON_AddNumberToObject(watch, "unwatchable", h->watch ? (double)h->watch->failed : 0);
  cJSON_AddBoolToObject(watch, "settling", h->watch && watch_settling(h->watch));
  cJSON *source = cJSON_AddObjectToObject(host, "source");
  cJSON_AddItemToObject(source, "driver_store",
                        h->cfg->driver_store ? cJSON_CreateString(h->cfg->driver_store)
                                             : cJSON_CreateNull());
  cJSON_AddItemToObject(source, "wsl_msix",
                        h->cfg->wsl_msix ? cJSON_CreateString(h->cfg->wsl_msix)
                                         : cJSON_CreateNull());
  cJSON *pkgs = cJSON_AddArrayToObject(host, "packages");
  if (g) {
    for (size_t p = 0; p < g->m.npackages; p++) {
      uint64_t files = 0, bytes = 0;
      for (size_t f = 0; f < g->m.nfiles; f++)
        if (g->m.files[f].package == (int)p)
          files++, bytes += g->m.files[f].size;
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "name", g->m.packages[p].name);
      cJSON_AddItemToObject(o, "version",
                            g->m.packages[p].version ? cJSON_CreateString(g->m.packages[p].version)
                                                     : cJSON_CreateNull());
      cJSON_AddItemToObject(o, "vendor",
                            g->m.packages[p].vendor ? cJSON_CreateString(g->m.packages[p].vendor)
                                                    : cJSON_CreateNull());
      cJSON_AddNumberToObject(o, "files", (double)files);
      cJSON_AddNumberToObject(o, "bytes", (double)bytes);
      cJSON_AddItemToArray(pkgs, o);
    }
  }
  return host;
}

const char *status_guest_state(const struct host_state *st, const struct guest *g) {
  if (host_guest_busy(g))
    return "installing";
  if (push_in_sync(&st->push, g))
    return "in_sync";
  if (g->pinned)
    return "pinned";
  if (g->retry.has_failed_generation)
    return "error";
  return "stale";
}

/* A report older than three of the guest's intervals (60 s when it names none). */
static int report_stale(const struct guest *g, uint64_t now) {
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(g->report, "report_interval_s");
  double interval = cJSON_IsNumber(i) && i->valuedouble >= 1 ? i->valuedouble : 60;
  return (double)(now - g->report_ms) > 3 * interval * 1000;
}

cJSON *status_guest_json(const struct host_state *h, const struct guest *g) {
  char gen[HASH_HEX_LEN + 1], seen[32], retry[32], started[32], finished[32], clash[32];
  char key[2 * sizeof g->key + 1];
  uint64_t now = guests_now_ms();
  if (g->has_key)
    text_hex_encode(g->key, sizeof g->key, key);
  if (g->has_generation)
    hash_to_hex(g->generation, gen);
  const struct push_record *r = &g->last_push;
  uint64_t ms = r->finished_ms - r->started_ms;
  struct status_guest_view v = {
      .name = g->name,
      .id = g->id,
      .transport = g->transport,
      .key = g->has_key ? key : NULL,
      .generation = g->has_generation ? gen : NULL,
      .state = status_guest_state(h, g),
      .last_seen = iso_text(g->last_seen_ms, seen),
      .next_retry = iso_text(g->retry.next_ms, retry),
      .connected = g->session != NULL,
      .in_sync = push_in_sync(&h->push, g),
      .gpu = g->report,
      .has_report = g->report != NULL,
      .report_age_s = g->report ? (double)(now - g->report_ms) / 1000.0 : 0,
      .report_stale = g->report && report_stale(g, now),
      .has_last_push = g->has_last_push,
      .last_push = {.ok = r->ok,
                    .generation = r->generation,
                    .started = iso_text(r->started_ms, started),
                    .finished = iso_text(r->finished_ms, finished),
                    .error = r->error[0] ? r->error : NULL,
                    .warning = r->warning[0] ? r->warning : NULL,
                    .started_unix_ms = (double)r->started_ms,
                    .bytes = (double)r->bytes,
                    .bytes_lacking = (double)r->bytes_total,
                    .wire_bytes = (double)r->wire_bytes,
                    .files = (double)r->files,
                    .duration_ms = (double)ms,
                    .bytes_per_second = ms ? (double)(r->bytes * 1000 / ms) : 0},
      .in_conflict = guests_in_conflict(g, now),
      .conflict_transport = g->conflict_transport,
      .conflict_last = iso_text(g->conflict_ms, clash),
      .conflict_refused = (double)g->conflicts,
  };
  if ((v.pushing = host_guest_busy(g))) {
    uint64_t done, total;
    session_progress(g->session, &done, &total);
    v.push_done = (double)done;
    v.push_total = (double)total;
  }
  cJSON *o = status_doc_guest(&v);
  if (o) /* it places system files, so it is offered the full form of the generation */
    cJSON_AddBoolToObject(o, "system_files", g->system_files);
  return o;
}

cJSON *status_json(const struct host_state *h) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return NULL;
  cJSON_AddItemToObject(root, "host", host_json(h));
  cJSON *guests = cJSON_AddArrayToObject(root, "guests");
  for (size_t i = 0; i < h->guests.n; i++)
    cJSON_AddItemToArray(guests, status_guest_json(h, h->guests.items[i]));
  return root;
}

#include "host-agent/status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static cJSON *iso_time(uint64_t ms) {
  if (!ms)
    return cJSON_CreateNull();
  char text[32];
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return cJSON_CreateString(text);
}

static cJSON *host_json(const struct host_state *h) {
  cJSON *host = cJSON_CreateObject();
  const struct generation *g = h->offer.gen;
  cJSON_AddStringToObject(host, "name", h->cfg->name);
  cJSON_AddStringToObject(host, "key", h->offer.key_hex);
  cJSON_AddItemToObject(host, "dashboard",
                        h->http_url[0] ? cJSON_CreateString(h->http_url) : cJSON_CreateNull());
  cJSON_AddItemToObject(host, "generation", g ? cJSON_CreateString(g->id_hex) : cJSON_CreateNull());
  cJSON_AddItemToObject(host, "last_scan", iso_time(h->scanned_ms));
  cJSON_AddItemToObject(host, "scan_error",
                        h->scan_error[0] ? cJSON_CreateString(h->scan_error) : cJSON_CreateNull());
  cJSON *scan = cJSON_AddObjectToObject(host, "scan");
  cJSON_AddNumberToObject(scan, "files", (double)h->last_scan.files);
  cJSON_AddNumberToObject(scan, "bytes", (double)h->last_scan.bytes);
  cJSON_AddNumberToObject(scan, "files_hashed", (double)h->last_scan.files_hashed);
  cJSON_AddNumberToObject(scan, "bytes_hashed", (double)h->last_scan.bytes_hashed);
  cJSON *source = cJSON_AddObjectToObject(host, "source");
  cJSON_AddItemToObject(source, "driver_store",
                        h->cfg->driver_store ? cJSON_CreateString(h->cfg->driver_store)
                                             : cJSON_CreateNull());
  cJSON_AddItemToObject(source, "wsl_msix",
                        h->cfg->wsl_msix ? cJSON_CreateString(h->cfg->wsl_msix)
                                         : cJSON_CreateNull());
  cJSON *pkgs = cJSON_AddArrayToObject(host, "packages");
  uint64_t libs = 0, lib_bytes = 0;
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
    for (size_t f = 0; f < g->m.nfiles; f++)
      if (g->m.files[f].package == MANIFEST_LIB)
        libs++, lib_bytes += g->m.files[f].size;
  }
  cJSON_AddNumberToObject(host, "libs", (double)libs);
  cJSON_AddNumberToObject(host, "files", g ? (double)g->m.nfiles : 0);
  cJSON_AddNumberToObject(host, "bytes", g ? (double)manifest_total_size(&g->m) : 0);
  return host;
}

static cJSON *push_json(const struct push_record *r) {
  cJSON *o = cJSON_CreateObject();
  uint64_t ms = r->finished_ms - r->started_ms;
  cJSON_AddBoolToObject(o, "ok", r->ok);
  cJSON_AddStringToObject(o, "generation", r->generation);
  cJSON_AddItemToObject(o, "started", iso_time(r->started_ms));
  cJSON_AddNumberToObject(o, "started_unix_ms", (double)r->started_ms);
  cJSON_AddItemToObject(o, "finished", iso_time(r->finished_ms));
  cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
  cJSON_AddNumberToObject(o, "bytes_lacking", (double)r->bytes_total);
  cJSON_AddNumberToObject(o, "wire_bytes", (double)r->wire_bytes);
  cJSON_AddNumberToObject(o, "files", (double)r->files);
  cJSON_AddNumberToObject(o, "duration_ms", (double)ms);
  cJSON_AddNumberToObject(o, "bytes_per_second", ms ? (double)(r->bytes * 1000 / ms) : 0);
  cJSON_AddItemToObject(o, "error",
                        r->error[0] ? cJSON_CreateString(r->error) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "warning",
                        r->warning[0] ? cJSON_CreateString(r->warning) : cJSON_CreateNull());
  return o;
}

const char *status_guest_state(const struct host_state *st, const struct guest *g) {
  if (host_guest_busy(g))
    return "installing";
  if (push_in_sync(&st->push, g))
    return "in_sync";
  if (g->retry.has_failed_generation)
    return "error";
  return "stale";
}

static cJSON *conflict_json(const struct guest *g, uint64_t now_ms) {
  if (!guests_in_conflict(g, now_ms))
    return cJSON_CreateNull();
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "message", "name in use by another guest");
  cJSON_AddStringToObject(o, "other_transport", g->conflict_transport);
  cJSON_AddNumberToObject(o, "refused", (double)g->conflicts);
  cJSON_AddItemToObject(o, "last", iso_time(g->conflict_ms));
  return o;
}

cJSON *status_guest_json(const struct host_state *h, const struct guest *g) {
  cJSON *o = cJSON_CreateObject();
  char hex[HASH_HEX_LEN + 1];
  cJSON_AddStringToObject(o, "name", g->name);
  cJSON_AddStringToObject(o, "id", g->id);
  cJSON_AddStringToObject(o, "transport", g->transport);
  cJSON_AddBoolToObject(o, "connected", g->session != NULL);
  if (g->has_generation)
    hash_to_hex(g->generation, hex);
  cJSON_AddItemToObject(o, "generation",
                        g->has_generation ? cJSON_CreateString(hex) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "in_sync", push_in_sync(&h->push, g));
  cJSON_AddStringToObject(o, "state", status_guest_state(h, g));
  cJSON_AddItemToObject(o, "gpu", g->report ? cJSON_Duplicate(g->report, 1) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "last_seen", iso_time(g->last_seen_ms));
  cJSON_AddItemToObject(o, "last_push",
                        g->has_last_push ? push_json(&g->last_push) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "next_retry",
                        g->retry.next_ms ? iso_time(g->retry.next_ms) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "conflict", conflict_json(g, guests_now_ms()));
  if (host_guest_busy(g)) {
    uint64_t done, total;
    session_progress(g->session, &done, &total);
    cJSON *p = cJSON_AddObjectToObject(o, "push");
    cJSON_AddNumberToObject(p, "bytes_done", (double)done);
    cJSON_AddNumberToObject(p, "bytes_total", (double)total);
  } else {
    cJSON_AddNullToObject(o, "push");
  }
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

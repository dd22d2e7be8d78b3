#include "host-agent/guests.h"

#include "common/err.h"
#include "common/fs.h"
#include "common/peer-text.h"
#include "common/text.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define GUESTS_FILE_MAX (256u << 20)
#define GUESTS_FILE_VERSION 1

uint64_t guests_now_ms(void) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

int guests_init(struct guests *r, size_t capacity, const char *path) {
  memset(r, 0, sizeof *r);
  r->capacity = capacity ? capacity : GUESTS_DEFAULT_CAPACITY;
  r->items = calloc(r->capacity, sizeof *r->items);
  if (path)
    r->path = strdup(path);
  if (!r->items || (path && !r->path)) {
    guests_done(r);
    return UV_ENOMEM;
  }
  return 0;
}

static void guest_free(struct guest *g) {
  if (g)
    cJSON_Delete(g->report);
  free(g);
}

void guests_done(struct guests *r) {
  for (size_t i = 0; i < r->n; i++)
    guest_free(r->items[i]);
  free(r->items);
  free(r->path);
  memset(r, 0, sizeof *r);
}

void guests_observe(struct guests *r, guests_observer_cb cb, void *ctx) {
  if (r->nobservers < GUESTS_MAX_OBSERVERS)
    r->observers[r->nobservers++] = (struct guests_observer){cb, ctx};
}

void guests_unobserve(struct guests *r, guests_observer_cb cb, void *ctx) {
  for (size_t i = 0; i < r->nobservers; i++) {
    if (r->observers[i].cb == cb && r->observers[i].ctx == ctx) {
      r->observers[i] = r->observers[--r->nobservers];
      return;
    }
  }
}

struct guest *guests_find(const struct guests *r, const char *name_or_id) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i]->id, name_or_id) == 0)
      return r->items[i];
  /* one name may have several records (a guest reinstalled with a new key, a VM given a new
   * CID): the connected one, else the one seen last */
  struct guest *best = NULL;
  for (size_t i = 0; i < r->n; i++) {
    struct guest *g = r->items[i];
    if (strcmp(g->name, name_or_id) != 0)
      continue;
    int better = !best || (g->session && !best->session) ||
                 (!g->session == !best->session && g->last_seen_ms > best->last_seen_ms);
    if (better)
      best = g;
  }
  return best;
}

/* Removes the record offline the longest; 0 when every record is connected. */
static int evict_one(struct guests *r) {
  size_t victim = r->n;
  for (size_t i = 0; i < r->n; i++) {
    const struct guest *g = r->items[i];
    if (!g->session && (victim == r->n || g->last_seen_ms < r->items[victim]->last_seen_ms))
      victim = i;
  }
  if (victim == r->n)
    return 0;
  for (size_t i = 0; i < r->nobservers; i++)
    r->observers[i].cb(r->observers[i].ctx, r->items[victim], GUESTS_EVICTED);
  guest_free(r->items[victim]);
  r->items[victim] = r->items[--r->n];
  r->evicted_total++;
  r->dirty = 1;
  return 1;
}

static struct guest *add_record(struct guests *r, const char *id) {
  if (r->n == r->capacity && !evict_one(r))
    return NULL;
  struct guest *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  text_copy(g->id, sizeof g->id, id);
  text_copy(g->name, sizeof g->name, id);
  r->items[r->n++] = g;
  return g;
}

struct guest *guests_claim(struct guests *r, const char *id) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i]->id, id) == 0)
      return r->items[i];
  return add_record(r, id);
}

int guests_may_replace(struct guest *g, const char *new_transport, uint64_t now_ms) {
  if (g->replaced_ms && now_ms - g->replaced_ms < GUESTS_CONFLICT_WINDOW_MS) {
    g->conflict_ms = now_ms;
    g->conflicts++;
    text_copy(g->conflict_transport, sizeof g->conflict_transport, new_transport);
    return 0;
  }
  g->replaced_ms = now_ms;
  return 1;
}

int guests_in_conflict(const struct guest *g, uint64_t now_ms) {
  return g->conflict_ms && now_ms - g->conflict_ms < GUESTS_CONFLICT_SHOWN_MS;
}

void guests_set_name(struct guest *g, const char *raw_name) {
  peer_text_clean(raw_name, strlen(raw_name), g->name, sizeof g->name);
}

void guests_set_report(struct guest *g, const cJSON *raw_report) {
  cJSON *clean = peer_json_clean(raw_report);
  if (!clean)
    return; /* out of memory: keep the older report */
  cJSON_Delete(g->report);
  g->report = clean;
  g->report_ms = guests_now_ms();
}

void guests_clean_error(const char *raw, char *out) {
  if (!raw)
    raw = "";
  peer_text_clean(raw, strlen(raw), out, GUEST_ERROR_MAX);
}

void guests_changed(struct guests *r, struct guest *g, enum guests_change kind) {
  if (kind == GUESTS_DURABLE)
    r->dirty = 1;
  for (size_t i = 0; i < r->nobservers; i++)
    r->observers[i].cb(r->observers[i].ctx, g, kind);
}

/* ---- persistence ---- */

static cJSON *record_json(const struct guest *g) {
  cJSON *o = cJSON_CreateObject();
  char hex[HASH_HEX_LEN + 1];
  cJSON_AddStringToObject(o, "id", g->id);
  cJSON_AddStringToObject(o, "name", g->name);
  cJSON_AddStringToObject(o, "transport", g->transport);
  if (g->has_key) {
    char key[2 * sizeof g->key + 1];
    text_hex_encode(g->key, sizeof g->key, key);
    cJSON_AddStringToObject(o, "key", key);
  }
  if (g->has_generation) {
    hash_to_hex(g->generation, hex);
    cJSON_AddStringToObject(o, "generation", hex);
  }
  cJSON_AddBoolToObject(o, "system_files", g->system_files);
  cJSON_AddNumberToObject(o, "connected_ms", (double)g->connected_ms);
  cJSON_AddNumberToObject(o, "last_seen_ms", (double)g->last_seen_ms);
  cJSON_AddNumberToObject(o, "report_ms", (double)g->report_ms);
  cJSON_AddNumberToObject(o, "pushes_total", (double)g->pushes_total);
  cJSON_AddNumberToObject(o, "push_failures_total", (double)g->push_failures_total);
  cJSON_AddNumberToObject(o, "push_bytes_total", (double)g->push_bytes_total);
  cJSON_AddNumberToObject(o, "push_ms_total", (double)g->push_ms_total);
  if (g->report)
    cJSON_AddItemToObject(o, "report", cJSON_Duplicate(g->report, 1));
  if (g->has_last_push) {
    const struct push_record *p = &g->last_push;
    cJSON *lp = cJSON_AddObjectToObject(o, "last_push");
    cJSON_AddBoolToObject(lp, "ok", p->ok);
    cJSON_AddStringToObject(lp, "generation", p->generation);
    cJSON_AddNumberToObject(lp, "bytes", (double)p->bytes);
    cJSON_AddNumberToObject(lp, "bytes_total", (double)p->bytes_total);
    cJSON_AddNumberToObject(lp, "files", (double)p->files);
    cJSON_AddNumberToObject(lp, "wire_bytes", (double)p->wire_bytes);
    cJSON_AddNumberToObject(lp, "started_ms", (double)p->started_ms);
    cJSON_AddNumberToObject(lp, "finished_ms", (double)p->finished_ms);
    cJSON_AddStringToObject(lp, "error", p->error);
    cJSON_AddStringToObject(lp, "warning", p->warning);
  }
  return o;
}

int guests_save(struct guests *r) {
  if (!r->path)
    return 0;
  cJSON *root = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(root, "guests");
  cJSON_AddNumberToObject(root, "version", GUESTS_FILE_VERSION);
  for (size_t i = 0; list && i < r->n; i++)
    cJSON_AddItemToArray(list, record_json(r->items[i]));
  char *text = list ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text)
    return UV_ENOMEM;
  int err = fs_write_atomic(r->path, text, strlen(text), 0600);
  cJSON_free(text);
  if (!err)
    r->dirty = 0;
  return err;
}

static int get_u64(const cJSON *o, const char *key, uint64_t *ret) {
  *ret = 0;
  return cJSON_GetObjectItemCaseSensitive(o, key) ? msg_get_u64(o, key, MSG_U64_MAX, ret) : 0;
}

static int get_text(const cJSON *o, const char *key, char *out, size_t size) {
  const char *s = NULL;
  if (msg_get_str_opt(o, key, size - 1, &s))
    return GPUPV_EFIELD;
  peer_text_clean(s ? s : "", s ? strlen(s) : 0, out, size);
  return 0;
}

static int load_push(const cJSON *lp, struct push_record *p) {
  uint8_t gen[HASH_LEN];
  if (msg_get_bool(lp, "ok", &p->ok) || msg_get_hash(lp, "generation", gen) ||
      get_u64(lp, "bytes", &p->bytes) || get_u64(lp, "bytes_total", &p->bytes_total) ||
      get_u64(lp, "files", &p->files) || get_u64(lp, "wire_bytes", &p->wire_bytes) ||
      get_u64(lp, "started_ms", &p->started_ms) || get_u64(lp, "finished_ms", &p->finished_ms) ||
      get_text(lp, "error", p->error, sizeof p->error) ||
      get_text(lp, "warning", p->warning, sizeof p->warning))
    return GPUPV_EFIELD;
  hash_to_hex(gen, p->generation);
  return 0;
}

static int load_record(struct guests *r, const cJSON *o) {
  const char *id;
  if (msg_get_str(o, "id", GUEST_ID_MAX - 1, &id) || !*id || !peer_text_is_clean(id))
    return GPUPV_EFIELD;
  if (guests_find(r, id))
    return GPUPV_EFIELD; /* an id is unique */
  struct guest *g = add_record(r, id);
  if (!g)
    return UV_ENOMEM;
  int has_gen;
  const cJSON *report = cJSON_GetObjectItemCaseSensitive(o, "report");
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "last_push");
  if (get_text(o, "name", g->name, sizeof g->name) ||
      get_text(o, "transport", g->transport, sizeof g->transport) ||
      msg_get_hash_opt(o, "generation", g->generation, &has_gen) ||
      get_u64(o, "connected_ms", &g->connected_ms) ||
      get_u64(o, "last_seen_ms", &g->last_seen_ms) ||
      get_u64(o, "pushes_total", &g->pushes_total) ||
      get_u64(o, "push_failures_total", &g->push_failures_total) ||
      get_u64(o, "push_bytes_total", &g->push_bytes_total) ||
      get_u64(o, "push_ms_total", &g->push_ms_total) ||
      (lp && (!cJSON_IsObject(lp) || load_push(lp, &g->last_push))))
    return GPUPV_EFIELD;
  g->has_generation = has_gen;
  g->has_last_push = lp != NULL;
  /* absent in records of the previous release: a guest without system files */
  const cJSON *sys = cJSON_GetObjectItemCaseSensitive(o, "system_files");
  if (sys && !cJSON_IsBool(sys))
    return GPUPV_EFIELD;
  g->system_files = cJSON_IsTrue(sys);
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
  if (key && (!cJSON_IsString(key) || text_hex_decode(key->valuestring, g->key, sizeof g->key)))
    return GPUPV_EFIELD;
  g->has_key = key != NULL;
  uint64_t report_ms = 0;
  if (get_u64(o, "report_ms", &report_ms))
    return GPUPV_EFIELD;
  if (cJSON_IsObject(report)) {
    guests_set_report(g, report);
    g->report_ms = report_ms; /* when it came, not when it was loaded */
  }
  return 0;
}

int guests_load(struct guests *r, char *err, size_t err_size) {
  if (!r->path)
    return 0;
  struct buf text;
  buf_init(&text);
  int rc = fs_read_file(r->path, GUESTS_FILE_MAX, &text);
  cJSON *root = NULL;
  if (rc == UV_ENOENT) {
    rc = 0;
    goto out;
  }
  if (rc) {
    snprintf(err, err_size, "reading %s: %s", r->path, gpupv_strerror(rc));
    goto out;
  }
  root = cJSON_ParseWithLength((const char *)text.data, text.len);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "guests");
  uint64_t version = 0;
  if (!cJSON_IsArray(list) || msg_get_u64(root, "version", 1000, &version) ||
      version != GUESTS_FILE_VERSION) {
    snprintf(err, err_size, "%s is not a guest registry of version %d", r->path,
             GUESTS_FILE_VERSION);
    rc = GPUPV_ECONFIG;
    goto out;
  }
  const cJSON *item;
  size_t index = 0;
  cJSON_ArrayForEach(item, list) {
    if ((rc = load_record(r, item))) {
      snprintf(err, err_size, "%s: record %zu: %s", r->path, index, gpupv_strerror(rc));
      break;
    }
    index++;
  }
out:
  if (rc) {
    for (size_t i = 0; i < r->n; i++)
      guest_free(r->items[i]);
    r->n = 0;
  }
  cJSON_Delete(root);
  buf_done(&text);
  return rc;
}

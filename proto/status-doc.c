#include "proto/status-doc.h"

#include <string.h>

static cJSON *text_or_null(const char *s) {
  return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static const char *read_text(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double read_num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int read_flag(const cJSON *o, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static cJSON *push_json(const struct status_push_view *p) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "ok", p->ok);
  cJSON_AddItemToObject(o, "generation", text_or_null(p->generation));
  cJSON_AddItemToObject(o, "started", text_or_null(p->started));
  cJSON_AddNumberToObject(o, "started_unix_ms", p->started_unix_ms);
  cJSON_AddItemToObject(o, "finished", text_or_null(p->finished));
  cJSON_AddNumberToObject(o, "bytes", p->bytes);
  cJSON_AddNumberToObject(o, "bytes_lacking", p->bytes_lacking);
  cJSON_AddNumberToObject(o, "wire_bytes", p->wire_bytes);
  cJSON_AddNumberToObject(o, "files", p->files);
  cJSON_AddNumberToObject(o, "duration_ms", p->duration_ms);
  cJSON_AddNumberToObject(o, "bytes_per_second", p->bytes_per_second);
  cJSON_AddItemToObject(o, "error", text_or_null(p->error));
  cJSON_AddItemToObject(o, "warning", text_or_null(p->warning));
  return o;
}

static void read_push(const cJSON *o, struct status_push_view *p) {
  memset(p, 0, sizeof *p);
  p->ok = read_flag(o, "ok");
  p->generation = read_text(o, "generation");
  p->started = read_text(o, "started");
  p->finished = read_text(o, "finished");
  p->error = read_text(o, "error");
  p->warning = read_text(o, "warning");
  p->started_unix_ms = read_num(o, "started_unix_ms");
  p->bytes = read_num(o, "bytes");
  p->bytes_lacking = read_num(o, "bytes_lacking");
  p->wire_bytes = read_num(o, "wire_bytes");
  p->files = read_num(o, "files");
  p->duration_ms = read_num(o, "duration_ms");
  p->bytes_per_second = read_num(o, "bytes_per_second");
}

cJSON *status_doc_guest(const struct status_guest_view *v) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "name", v->name);
  cJSON_AddStringToObject(o, "id", v->id);
  cJSON_AddStringToObject(o, "transport", v->transport);
  cJSON_AddItemToObject(o, "key", text_or_null(v->key));
  cJSON_AddBoolToObject(o, "connected", v->connected);
  cJSON_AddItemToObject(o, "generation", text_or_null(v->generation));
  cJSON_AddBoolToObject(o, "in_sync", v->in_sync);
  cJSON_AddStringToObject(o, "state", v->state);
  cJSON_AddItemToObject(o, "gpu", v->gpu ? cJSON_Duplicate(v->gpu, 1) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "report_age_s",
                        v->has_report ? cJSON_CreateNumber(v->report_age_s) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "report_stale", v->report_stale);
  cJSON_AddItemToObject(o, "last_seen", text_or_null(v->last_seen));
  cJSON_AddItemToObject(o, "last_push",
                        v->has_last_push ? push_json(&v->last_push) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "next_retry", text_or_null(v->next_retry));
  if (v->in_conflict) {
    cJSON *c = cJSON_AddObjectToObject(o, "conflict");
    cJSON_AddStringToObject(c, "message", "name in use by another guest");
    cJSON_AddItemToObject(c, "other_transport", text_or_null(v->conflict_transport));
    cJSON_AddNumberToObject(c, "refused", v->conflict_refused);
    cJSON_AddItemToObject(c, "last", text_or_null(v->conflict_last));
  } else {
    cJSON_AddNullToObject(o, "conflict");
  }
  if (v->pushing) {
    cJSON *p = cJSON_AddObjectToObject(o, "push");
    cJSON_AddNumberToObject(p, "bytes_done", v->push_done);
    cJSON_AddNumberToObject(p, "bytes_total", v->push_total);
  } else {
    cJSON_AddNullToObject(o, "push");
  }
  return o;
}

void status_doc_read_guest(const cJSON *o, struct status_guest_view *ret) {
  memset(ret, 0, sizeof *ret);
  ret->name = read_text(o, "name");
  ret->id = read_text(o, "id");
  ret->transport = read_text(o, "transport");
  ret->key = read_text(o, "key");
  ret->generation = read_text(o, "generation");
  ret->state = read_text(o, "state");
  ret->last_seen = read_text(o, "last_seen");
  ret->next_retry = read_text(o, "next_retry");
  ret->connected = read_flag(o, "connected");
  ret->in_sync = read_flag(o, "in_sync");
  const cJSON *gpu = cJSON_GetObjectItemCaseSensitive(o, "gpu");
  ret->gpu = cJSON_IsObject(gpu) ? gpu : NULL;
  const cJSON *age = cJSON_GetObjectItemCaseSensitive(o, "report_age_s");
  if ((ret->has_report = cJSON_IsNumber(age)))
    ret->report_age_s = age->valuedouble;
  ret->report_stale = read_flag(o, "report_stale");
  const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_push");
  if ((ret->has_last_push = cJSON_IsObject(last)))
    read_push(last, &ret->last_push);
  const cJSON *push = cJSON_GetObjectItemCaseSensitive(o, "push");
  if ((ret->pushing = cJSON_IsObject(push))) {
    ret->push_done = read_num(push, "bytes_done");
    ret->push_total = read_num(push, "bytes_total");
  }
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "conflict");
  if ((ret->in_conflict = cJSON_IsObject(c))) {
    ret->conflict_transport = read_text(c, "other_transport");
    ret->conflict_last = read_text(c, "last");
    ret->conflict_refused = read_num(c, "refused");
  }
}

cJSON *status_doc_target(const struct status_target_view *v) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "name", v->name ? v->name : "");
  cJSON_AddStringToObject(o, "id", v->id ? v->id : "");
  cJSON_AddBoolToObject(o, "connected", v->connected);
  cJSON_AddBoolToObject(o, "in_sync", v->in_sync);
  cJSON_AddStringToObject(o, "state", v->state);
  cJSON_AddStringToObject(o, "phase", v->phase);
  cJSON_AddNumberToObject(o, "bytes_done", v->bytes_done);
  cJSON_AddNumberToObject(o, "bytes_total", v->bytes_total);
  if (v->has_last_push) {
    cJSON_AddNumberToObject(o, "last_push_bytes", v->last_push_bytes);
    cJSON_AddNumberToObject(o, "last_push_ms", v->last_push_ms);
  }
  cJSON_AddItemToObject(o, "error", text_or_null(v->error));
  return o;
}

void status_doc_read_target(const cJSON *o, struct status_target_view *ret) {
  memset(ret, 0, sizeof *ret);
  ret->name = read_text(o, "name");
  ret->id = read_text(o, "id");
  ret->state = read_text(o, "state");
  ret->phase = read_text(o, "phase");
  ret->error = read_text(o, "error");
  ret->connected = read_flag(o, "connected");
  ret->in_sync = read_flag(o, "in_sync");
  ret->bytes_done = read_num(o, "bytes_done");
  ret->bytes_total = read_num(o, "bytes_total");
  ret->has_last_push = cJSON_GetObjectItemCaseSensitive(o, "last_push_bytes") != NULL;
  ret->last_push_bytes = read_num(o, "last_push_bytes");
  ret->last_push_ms = read_num(o, "last_push_ms");
}

cJSON *status_doc_host(const struct status_host_view *v) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "name", v->name);
  cJSON_AddStringToObject(o, "key", v->key);
  cJSON_AddItemToObject(o, "dashboard", text_or_null(v->dashboard));
  cJSON_AddItemToObject(o, "generation", text_or_null(v->generation));
  cJSON_AddItemToObject(o, "last_scan", text_or_null(v->last_scan));
  cJSON_AddItemToObject(o, "scan_error", text_or_null(v->scan_error));
  cJSON_AddNumberToObject(o, "libs", v->libs);
  cJSON_AddNumberToObject(o, "files", v->files);
  cJSON_AddNumberToObject(o, "bytes", v->bytes);
  return o;
}

void status_doc_read_host(const cJSON *o, struct status_host_view *ret) {
  memset(ret, 0, sizeof *ret);
  ret->name = read_text(o, "name");
  ret->key = read_text(o, "key");
  ret->dashboard = read_text(o, "dashboard");
  ret->generation = read_text(o, "generation");
  ret->last_scan = read_text(o, "last_scan");
  ret->scan_error = read_text(o, "scan_error");
  ret->packages = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "packages"));
  ret->libs = read_num(o, "libs");
  ret->files = read_num(o, "files");
  ret->bytes = read_num(o, "bytes");
}

cJSON *status_doc_result(const struct status_result_view *v, cJSON *guests) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    cJSON_Delete(guests);
    return NULL;
  }
  cJSON_AddBoolToObject(o, "ok", v->ok);
  cJSON_AddItemToObject(o, "generation", text_or_null(v->generation));
  cJSON_AddItemToObject(o, "error", text_or_null(v->error));
  cJSON_AddItemToObject(o, "guests", guests ? guests : cJSON_CreateArray());
  return o;
}

void status_doc_read_result(const cJSON *o, struct status_result_view *ret) {
  memset(ret, 0, sizeof *ret);
  ret->ok = read_flag(o, "ok");
  ret->generation = read_text(o, "generation");
  ret->error = read_text(o, "error");
  const cJSON *guests = cJSON_GetObjectItemCaseSensitive(o, "guests");
  ret->guests = cJSON_IsArray(guests) ? guests : NULL;
}

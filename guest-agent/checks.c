#include "guest-agent/checks.h"

#include <string.h>

static const char *const level_names[] = {"ok", "warn", "fail"};

void checks_add(cJSON *status, const char *id, enum check_level level, const char *detail,
                const char *fix) {
  cJSON *list = cJSON_GetObjectItemCaseSensitive(status, "checks");
  if (!list)
    list = cJSON_AddArrayToObject(status, "checks");
  cJSON *c = list ? cJSON_CreateObject() : NULL;
  if (!c)
    return;
  cJSON_AddItemToArray(list, c);
  cJSON_AddStringToObject(c, "id", id);
  cJSON_AddStringToObject(c, "level", level_names[level]);
  cJSON_AddStringToObject(c, "detail", detail);
  if (fix && level != CHECK_OK)
    cJSON_AddStringToObject(c, "fix", fix);
  else
    cJSON_AddNullToObject(c, "fix");
}

void checks_finish(cJSON *status) {
  int failed = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "checks")) {
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(c, "level");
    failed |= cJSON_IsString(level) && strcmp(level->valuestring, "fail") == 0;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(status, "healthy");
  cJSON_AddBoolToObject(status, "healthy", !failed);
}

int checks_same(const cJSON *a, const cJSON *b) {
  const cJSON *ca = a ? cJSON_GetObjectItemCaseSensitive(a, "checks") : NULL;
  const cJSON *cb = b ? cJSON_GetObjectItemCaseSensitive(b, "checks") : NULL;
  if (!ca || !cb)
    return ca == cb;
  return cJSON_Compare(ca, cb, 1);
}

#include "guest-agent/adapters.h"

cJSON *adapters_query(const char *lib_path) {
  (void)lib_path; /* the Windows guest asks DXGI (probe-win.c) */
  cJSON *o = cJSON_CreateObject();
  if (o)
    cJSON_AddStringToObject(o, "error", "not on Windows");
  return o;
}

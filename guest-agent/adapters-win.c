#include "guest-agent/adapters.h"

#include "guest-agent/d3dkmt.h"

#include <windows.h>

cJSON *adapters_query(const char *lib_path) {
  (void)lib_path; /* gdi32 is the system's own: asked in this process */
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  HMODULE gdi = LoadLibraryW(L"gdi32.dll");
  const struct d3dkmt_api api = {
      gdi ? (enum_fn)(void *)GetProcAddress(gdi, "D3DKMTEnumAdapters2") : NULL,
      gdi ? (query_fn)(void *)GetProcAddress(gdi, "D3DKMTQueryAdapterInfo") : NULL,
      gdi ? (close_fn)(void *)GetProcAddress(gdi, "D3DKMTCloseAdapter") : NULL};
  d3dkmt_list(&api, o);
  return o;
}

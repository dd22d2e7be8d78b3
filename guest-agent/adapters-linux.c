#include "guest-agent/adapters.h"

#include "guest-agent/d3dkmt.h"

#include <dlfcn.h>

cJSON *adapters_query(const char *lib_path) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    cJSON_AddStringToObject(o, "error", e ? e : "cannot be loaded");
    return o;
  }
  const struct d3dkmt_api api = {(enum_fn)dlsym(lib, "D3DKMTEnumAdapters2"),
                                 (query_fn)dlsym(lib, "D3DKMTQueryAdapterInfo"),
                                 (close_fn)dlsym(lib, "D3DKMTCloseAdapter")};
  d3dkmt_list(&api, o);
  dlclose(lib);
  return o;
}

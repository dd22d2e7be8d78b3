#include "common/err.h"

#include <uv.h>

const char *gpupv_strerror(int err) {
  switch (err) {
#define GPUPV__ERR_CASE(name, msg)                                                                 \
  case GPUPV_E##name:                                                                              \
    return msg;
    GPUPV_ERRNO_MAP(GPUPV__ERR_CASE)
#undef GPUPV__ERR_CASE
  default:
    return uv_strerror(err);
  }
}

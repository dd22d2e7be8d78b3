#include "common/file-version.h"

#include "common/win-text.h"

#include <stdlib.h>
#include <uv.h>
#include <windows.h>

int file_version(const char *path, uint64_t *ret) {
  *ret = 0;
  wchar_t *w = win_wide_path(path);
  if (!w)
    return UV_EINVAL;
  DWORD ignored = 0, size = GetFileVersionInfoSizeW(w, &ignored);
  void *info = size ? malloc(size) : NULL;
  VS_FIXEDFILEINFO *fixed = NULL;
  UINT len = 0;
  int err = UV_ENOENT;
  if (info && GetFileVersionInfoW(w, 0, size, info) &&
      VerQueryValueW(info, L"\\", (void **)&fixed, &len) && fixed && len >= sizeof *fixed) {
    *ret = (uint64_t)fixed->dwFileVersionMS << 32 | fixed->dwFileVersionLS;
    err = 0;
  }
  free(info);
  free(w);
  return err;
}

#include "host-agent/registry-copy-win.h"

#include "common/win-text.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define VALUE_MAX_BYTES 65536

static const wchar_t *const lists[] = {L"CopyToVmOverwrite", L"CopyToVmWhenNewer",
                                       L"CopyToVmOverwriteWow64", L"CopyToVmWhenNewerWow64"};

/* Adds the entry of one value (its data: size bytes of type) to out. */
static void add_value(DWORD type, const wchar_t *data, DWORD size, int list, struct inf_copy *out,
                      size_t *n) {
  size_t chars = size / sizeof *data;
  if ((type != REG_SZ && type != REG_MULTI_SZ) || !chars || data[chars - 1] != 0)
    return; /* not terminated: not a string we trust */
  const wchar_t *first = data, *second = NULL;
  if (type == REG_MULTI_SZ) {
    size_t len = wcslen(first);
    if (len + 1 < chars && first[len + 1])
      second = first + len + 1;
  }
  char *source = win_utf8(first), *dest = second ? win_utf8(second) : NULL;
  if (source && (!second || dest) &&
      inf_copy_make(source, dest, list >= 2, list % 2, &out[*n]) == 0)
    (*n)++;
  free(source);
  free(dest);
}

int registry_read_copy_to_vm(HKEY key, struct inf_copy **ret, size_t *ret_n) {
  *ret_n = 0;
  *ret = calloc(INF_COPY_MAX, sizeof **ret);
  wchar_t *data = malloc(VALUE_MAX_BYTES + 2 * sizeof *data);
  if (!*ret || !data) {
    free(*ret);
    free(data);
    *ret = NULL;
    return UV_ENOMEM;
  }
  for (int list = 0; list < 4; list++) {
    HKEY sub;
    if (RegOpenKeyExW(key, lists[list], 0, KEY_READ, &sub) != ERROR_SUCCESS)
      continue;
    for (DWORD i = 0; *ret_n < INF_COPY_MAX; i++) {
      wchar_t name[256];
      DWORD name_len = 256, type = 0, size = VALUE_MAX_BYTES;
      LSTATUS rc = RegEnumValueW(sub, i, name, &name_len, NULL, &type, (BYTE *)data, &size);
      if (rc == ERROR_NO_MORE_ITEMS)
        break;
      if (rc == ERROR_SUCCESS)
        add_value(type, data, size, list, *ret, ret_n);
    }
    RegCloseKey(sub);
  }
  free(data);
  return 0;
}

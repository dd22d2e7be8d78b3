#include "common/win-text.h"

#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define LONG_PATH 240

wchar_t *win_wide(const char *utf8) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
  if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n) != n) {
    free(w);
    w = NULL;
  }
  return w;
}

wchar_t *win_wide_path(const char *utf8) {
  wchar_t *w = win_wide(utf8);
  if (!w)
    return NULL;
  for (wchar_t *p = w; *p; p++)
    if (*p == L'/')
      *p = L'\\';
  size_t n = wcslen(w);
  int absolute = n > 2 && w[1] == L':' && w[2] == L'\\';
  if (n < LONG_PATH || !absolute)
    return w;
  wchar_t *longer = malloc((n + 5) * sizeof *longer);
  if (longer) {
    memcpy(longer, L"\\\\?\\", 4 * sizeof *longer);
    memcpy(longer + 4, w, (n + 1) * sizeof *longer);
  }
  free(w);
  return longer;
}

char *win_utf8(const wchar_t *wide) {
  int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
  char *s = n > 0 ? malloc((size_t)n) : NULL;
  if (s && WideCharToMultiByte(CP_UTF8, 0, wide, -1, s, n, NULL, NULL) != n) {
    free(s);
    s = NULL;
  }
  return s;
}

/* UTF-8 and UTF-16 for Windows API calls (Windows builds only: win-text.c). */
#ifndef GPUPV_COMMON_WIN_TEXT_H
#define GPUPV_COMMON_WIN_TEXT_H

#include <wchar.h>

/* A new UTF-16 copy of utf8, or NULL. */
wchar_t *win_wide(const char *utf8);
/* A new UTF-16 path: '/' becomes '\', and a long absolute path gets the \\?\ prefix. */
wchar_t *win_wide_path(const char *utf8);
/* A new UTF-8 copy of wide, or NULL. */
char *win_utf8(const wchar_t *wide);

#endif

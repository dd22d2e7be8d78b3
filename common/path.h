/* Checks for paths that come from a peer. Pure functions, no file system access. */
#ifndef GPUPV_COMMON_PATH_H
#define GPUPV_COMMON_PATH_H

#include <stddef.h>

#define PATH_MAX_LEN 1024
#define PATH_MAX_DEPTH 32
#define PATH_MAX_COMPONENT 255

/*
 * Accepts a relative path of '/'-separated components that is safe to create under a root on
 * Linux and on Windows: not absolute, no drive letter, no backslash, no empty, "." or ".."
 * component, no control characters or characters Windows forbids (<>:"|?*), no trailing dot or
 * space, no reserved device name (CON, NUL, COM1...). Returns 0 or GPUPV_EPATH, and when
 * ret_reason is non-NULL points it at a static explanation.
 */
int path_check_relative(const char *path, const char **ret_reason);
/* The same checks for a single component (no '/'). */
int path_check_component(const char *name, const char **ret_reason);
/* Compares two paths as Windows would for a case collision (ASCII case folding). */
int path_casecmp(const char *a, const char *b);
/* 1 for "/x", "C:\x", "C:/x" and "\\server\x" paths. */
int path_is_absolute(const char *path);
/* Returns a new string "a/b" (caller frees), or NULL when out of memory. */
char *path_join(const char *a, const char *b);

#endif

#include "common/path.h"

#include "common/peer-text.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_reserved_device(const char *name, size_t len) {
  static const char *const names[] = {"con", "prn", "aux", "nul", "conin$", "conout$"};
  /* Windows reserves the device name with any extension: "nul.txt" is NUL. */
  size_t base = 0;
  while (base < len && name[base] != '.')
    base++;
  char stem[8];
  if (base >= sizeof stem)
    return 0;
  for (size_t i = 0; i < base; i++)
    stem[i] = (char)lower((unsigned char)name[i]);
  stem[base] = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(stem, names[i]) == 0)
      return 1;
  if (base == 4 && (memcmp(stem, "com", 3) == 0 || memcmp(stem, "lpt", 3) == 0) && stem[3] >= '0' &&
      stem[3] <= '9')
    return 1;
  return 0;
}

static int check_component(const char *name, size_t len, const char **ret_reason) {
  const char *reason = NULL;
  if (len == 0)
    reason = "empty path component";
  else if (len > PATH_MAX_COMPONENT)
    reason = "path component too long";
  else if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    reason = "'.' or '..' component";
  else if (name[len - 1] == '.' || name[len - 1] == ' ')
    reason = "component ends in a dot or space";
  else if (is_reserved_device(name, len))
    reason = "reserved Windows device name";
  else if (!peer_text_is_utf8(name, len))
    reason = "not valid UTF-8";
  for (size_t i = 0; !reason && i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c == 0x7f)
      reason = "control character";
    else if (strchr("<>:\"|?*\\", c))
      reason = "character not allowed on Windows";
  }
  if (reason) {
    if (ret_reason)
      *ret_reason = reason;
    return GPUPV_EPATH;
  }
  return 0;
}

int path_check_component(const char *name, const char **ret_reason) {
  if (!name) {
    if (ret_reason)
      *ret_reason = "missing name";
    return GPUPV_EPATH;
  }
  if (strchr(name, '/')) {
    if (ret_reason)
      *ret_reason = "separator in a name";
    return GPUPV_EPATH;
  }
  return check_component(name, strlen(name), ret_reason);
}

int path_check_relative(const char *path, const char **ret_reason) {
  if (!path || !*path) {
    if (ret_reason)
      *ret_reason = "empty path";
    return GPUPV_EPATH;
  }
  size_t len = strlen(path);
  if (len > PATH_MAX_LEN) {
    if (ret_reason)
      *ret_reason = "path too long";
    return GPUPV_EPATH;
  }
  if (path[0] == '/') {
    if (ret_reason)
      *ret_reason = "absolute path";
    return GPUPV_EPATH;
  }
  int depth = 0;
  const char *p = path;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    int err = check_component(p, n, ret_reason);
    if (err)
      return err;
    if (++depth > PATH_MAX_DEPTH) {
      if (ret_reason)
        *ret_reason = "path too deep";
      return GPUPV_EPATH;
    }
    if (!slash)
      break;
    p = slash + 1;
  }
  return 0;
}

int path_casecmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = lower((unsigned char)*a), cb = lower((unsigned char)*b);
    if (ca != cb || !ca)
      return ca - cb;
  }
}

char *path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p)
    return NULL;
  memcpy(p, a, la);
  size_t n = la;
  if (la && a[la - 1] != '/')
    p[n++] = '/';
  memcpy(p + n, b, lb + 1);
  return p;
}

int path_is_absolute(const char *path) {
  if (path[0] == '/' || (path[0] == '\\' && path[1] == '\\'))
    return 1;
  int letter = (path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z');
  return letter && path[1] == ':' && (path[2] == '\\' || path[2] == '/');
}

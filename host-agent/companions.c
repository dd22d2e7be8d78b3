#include "host-agent/companions.h"

#include "common/fs.h"
#include "common/path.h"
#include "host-agent/inf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* [Version] comes first in an INF: its head is enough, however large the INF is. */
#define INF_HEAD_BYTES 65536

#define CLASS_SOFTWARE_COMPONENT "{5c4c3332-344d-483c-8739-259e934c9cc8}"
#define CLASS_EXTENSION "{e2f84ce7-8efa-411c-aa69-97454ca4cb57}"

struct package_inf {
  char version[128], cls[64], guid[64];
};

/* The [Version] of the first top-level .inf of driver_store/name; 0 when there is none. */
static int read_inf(const char *driver_store, const char *name, struct package_inf *ret) {
  memset(ret, 0, sizeof *ret);
  char *dir = path_join(driver_store, name);
  char **names = NULL;
  size_t n = 0;
  int found = 0;
  if (dir && fs_list_dir(dir, &names, &n) == 0) {
    for (size_t i = 0; i < n && !found; i++) {
      size_t len = strlen(names[i]);
      if (len < 4 || path_casecmp(names[i] + len - 4, ".inf") != 0)
        continue;
      char *path = path_join(dir, names[i]);
      int fd;
      uint8_t *head = malloc(INF_HEAD_BYTES);
      if (path && head && fs_open_read(path, &fd) == 0) {
        int64_t got = fs_read(fd, head, INF_HEAD_BYTES);
        fs_close(fd);
        if (got > 0) {
          char vendor[8];
          inf_read_version(head, (size_t)got, ret->version, sizeof ret->version, vendor,
                           sizeof vendor);
          inf_read_class(head, (size_t)got, ret->cls, sizeof ret->cls, ret->guid, sizeof ret->guid);
          found = 1;
        }
      }
      free(head);
      free(path);
    }
  }
  fs_names_free(names, n);
  free(dir);
  return found && *ret->version;
}

static int is_companion_class(const struct package_inf *p) {
  return strcasecmp(p->cls, "SoftwareComponent") == 0 || strcasecmp(p->cls, "Extension") == 0 ||
         strcasecmp(p->guid, CLASS_SOFTWARE_COMPONENT) == 0 ||
         strcasecmp(p->guid, CLASS_EXTENSION) == 0;
}

static int listed(const struct strlist *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i], name) == 0)
      return 1;
  return 0;
}

size_t companions_add(const char *driver_store, struct strlist *packages) {
  size_t displays = packages->n, added = 0;
  char(*versions)[128] = calloc(displays + 1, sizeof *versions);
  char **names = NULL;
  size_t n = 0;
  if (!versions || fs_list_dir(driver_store, &names, &n) != 0) {
    free(versions);
    return 0;
  }
  for (size_t i = 0; i < displays; i++) {
    struct package_inf p;
    if (read_inf(driver_store, packages->items[i], &p))
      snprintf(versions[i], sizeof versions[i], "%s", p.version);
  }
  for (size_t i = 0; i < n; i++) {
    struct package_inf p;
    if (listed(packages, names[i]) || !read_inf(driver_store, names[i], &p) ||
        !is_companion_class(&p))
      continue;
    for (size_t d = 0; d < displays; d++) {
      if (*versions[d] && strcmp(versions[d], p.version) == 0) {
        if (strlist_add(packages, names[i]) == 0)
          added++;
        break;
      }
    }
  }
  fs_names_free(names, n);
  free(versions);
  return added;
}

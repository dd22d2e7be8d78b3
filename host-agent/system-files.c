#include "host-agent/system-files.h"

#include "common/err.h"
#include "common/path.h"
#include "common/text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

int system_file_parse(const char *text, struct system_file_spec *ret, const char **ret_reason) {
  memset(ret, 0, sizeof *ret);
  *ret_reason = "expected PACKAGE/PATH=System32/NAME or =SysWOW64/NAME, optionally :when-newer";
  const char *eq = strchr(text, '='), *slash = strchr(text, '/');
  if (!eq || !slash || slash > eq || (size_t)(slash - text) >= sizeof ret->package ||
      (size_t)(eq - slash - 1) >= sizeof ret->path)
    return GPUPV_EUSAGE;
  memcpy(ret->package, text, (size_t)(slash - text));
  memcpy(ret->path, slash + 1, (size_t)(eq - slash - 1));
  const char *dest = eq + 1, *dslash = strchr(dest, '/');
  if (!dslash)
    return GPUPV_EUSAGE;
  size_t flen = (size_t)(dslash - dest);
  if (flen == 8 && strncasecmp(dest, "System32", 8) == 0)
    ret->folder = SYSDIR_SYSTEM32;
  else if (flen == 8 && strncasecmp(dest, "SysWOW64", 8) == 0)
    ret->folder = SYSDIR_SYSWOW64;
  else
    return GPUPV_EUSAGE;
  const char *name = dslash + 1, *colon = strchr(name, ':');
  size_t nlen = colon ? (size_t)(colon - name) : strlen(name);
  if (nlen >= sizeof ret->name)
    return GPUPV_EUSAGE;
  memcpy(ret->name, name, nlen);
  ret->rule = RULE_OVERWRITE;
  if (colon && strcmp(colon + 1, "when-newer") == 0)
    ret->rule = RULE_WHEN_NEWER;
  else if (colon && strcmp(colon + 1, "overwrite") != 0)
    return GPUPV_EUSAGE;
  if (path_check_component(ret->package, ret_reason) ||
      path_check_relative(ret->path, ret_reason) || path_check_component(ret->name, ret_reason))
    return GPUPV_EUSAGE;
  return 0;
}

/* The index of the file of package whose path is path, ignoring case; else the one file whose
 * name is path's name; else -1. */
static long find_package_file(const struct manifest *m, int package, const char *path) {
  long by_name = -1;
  int names = 0;
  const char *want = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  for (size_t i = 0; i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
    if (f->package != package)
      continue;
    if (path_casecmp(f->path, path) == 0)
      return (long)i;
    const char *base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
    if (path_casecmp(base, want) == 0) {
      by_name = (long)i;
      names++;
    }
  }
  return names == 1 ? by_name : -1;
}

static int taken(const struct manifest *m, enum manifest_sysdir folder, const char *name) {
  for (size_t i = 0; i < m->nsystem; i++)
    if (m->system[i].folder == folder && path_casecmp(m->system[i].name, name) == 0)
      return 1;
  return 0;
}

int system_files_from_inf(struct manifest *m, int package, const struct inf_copy *list, size_t n,
                          size_t *ret_missing) {
  size_t missing = 0;
  for (size_t i = 0; i < n; i++) {
    enum manifest_sysdir folder = list[i].wow64 ? SYSDIR_SYSWOW64 : SYSDIR_SYSTEM32;
    long f = find_package_file(m, package, list[i].source);
    const char *reason;
    if (f < 0 || path_check_component(list[i].dest, &reason)) {
      missing++;
      continue;
    }
    if (taken(m, folder, list[i].dest))
      continue;
    int err = manifest_add_system_file(m, package, m->files[f].path, folder, list[i].dest,
                                       list[i].when_newer ? RULE_WHEN_NEWER : RULE_OVERWRITE);
    if (err)
      return err;
  }
  if (ret_missing)
    *ret_missing = missing;
  return 0;
}

int system_files_from_specs(struct manifest *m, const struct system_file_spec *specs, size_t n,
                            char *err, size_t err_size) {
  for (size_t i = 0; i < n; i++) {
    const struct system_file_spec *s = &specs[i];
    int package = -1;
    for (size_t p = 0; p < m->npackages && package < 0; p++)
      if (strcmp(m->packages[p].name, s->package) == 0)
        package = (int)p;
    long f = package < 0 ? -1 : find_package_file(m, package, s->path);
    if (f < 0 || path_casecmp(m->files[f].path, s->path) != 0) {
      snprintf(err, err_size, "--system-file %.200s/%.400s: %s", s->package, s->path,
               package < 0 ? "no such package is published" : "no such file in the package");
      return UV_ENOENT;
    }
    if (taken(m, s->folder, s->name)) {
      snprintf(err, err_size, "--system-file: %s/%.200s is given twice",
               manifest_sysdir_name(s->folder), s->name);
      return GPUPV_EUSAGE;
    }
    int rc = manifest_add_system_file(m, package, m->files[f].path, s->folder, s->name, s->rule);
    if (rc)
      return rc;
  }
  return 0;
}

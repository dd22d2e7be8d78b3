#include "proto/manifest.h"

#include "common/err.h"
#include "common/path.h"
#include "proto/msg.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

const struct manifest_limits MANIFEST_DEFAULT_LIMITS = {
    .max_files = 200000,
    .max_packages = 1024,
    .max_system_files = 4096,
    .max_file_size = (uint64_t)16 << 30,
    .max_total = (uint64_t)256 << 30,
    .max_bytes = 64 << 20,
};

static const char *const origin_names[] = {"", "inbox", "packaged"};
static const char *const sysdir_names[] = {"System32", "SysWOW64"};
static const char *const rule_names[] = {"overwrite", "when_newer"};

const char *manifest_sysdir_name(enum manifest_sysdir d) {
  return sysdir_names[d == SYSDIR_SYSWOW64];
}

const char *manifest_rule_name(enum manifest_rule r) {
  return rule_names[r == RULE_WHEN_NEWER];
}

void manifest_done(struct manifest *m) {
  for (size_t i = 0; i < m->npackages; i++) {
    free(m->packages[i].name);
    free(m->packages[i].version);
    free(m->packages[i].vendor);
  }
  for (size_t i = 0; i < m->nfiles; i++)
    free(m->files[i].path);
  for (size_t i = 0; i < m->nsystem; i++) {
    free(m->system[i].path);
    free(m->system[i].name);
  }
  free(m->packages);
  free(m->files);
  free(m->system);
  memset(m, 0, sizeof *m);
}

void manifest_free(struct manifest *m) {
  if (!m)
    return;
  manifest_done(m);
  free(m);
}

static char *strdup_opt(const char *s) {
  return s ? strdup(s) : NULL;
}

int manifest_add_package(struct manifest *m, const char *name, const char *version,
                         const char *vendor, int *ret_index) {
  struct manifest_package *p = realloc(m->packages, (m->npackages + 1) * sizeof *p);
  if (!p)
    return UV_ENOMEM;
  m->packages = p;
  struct manifest_package pkg = {strdup(name), strdup_opt(version), strdup_opt(vendor)};
  if (!pkg.name || (version && !pkg.version) || (vendor && !pkg.vendor)) {
    free(pkg.name), free(pkg.version), free(pkg.vendor);
    return UV_ENOMEM;
  }
  p[m->npackages] = pkg;
  if (ret_index)
    *ret_index = (int)m->npackages;
  m->npackages++;
  return 0;
}

int manifest_add_file(struct manifest *m, int package, const char *path, uint64_t size,
                      uint32_t mode, const uint8_t sha256[HASH_LEN], enum manifest_origin origin) {
  struct manifest_file *f = realloc(m->files, (m->nfiles + 1) * sizeof *f);
  if (!f)
    return UV_ENOMEM;
  m->files = f;
  char *copy = strdup(path);
  if (!copy)
    return UV_ENOMEM;
  f += m->nfiles++;
  f->path = copy;
  f->size = size;
  f->mode = mode;
  memcpy(f->sha256, sha256, HASH_LEN);
  f->package = package;
  f->origin = origin;
  f->tag = 0;
  return 0;
}

int manifest_add_system_file(struct manifest *m, int package, const char *path,
                             enum manifest_sysdir folder, const char *name,
                             enum manifest_rule rule) {
  struct manifest_system_file *s = realloc(m->system, (m->nsystem + 1) * sizeof *s);
  if (!s)
    return UV_ENOMEM;
  m->system = s;
  struct manifest_system_file one = {package, strdup(path), folder, strdup(name), rule};
  if (!one.path || !one.name) {
    free(one.path), free(one.name);
    return UV_ENOMEM;
  }
  s[m->nsystem++] = one;
  return 0;
}

/* Libraries sort after every package. */
static long group_rank(const struct manifest_file *f, size_t npackages) {
  return f->package == MANIFEST_LIB ? (long)npackages : f->package;
}

static size_t sort_npackages;
static int cmp_file(const void *a, const void *b) {
  const struct manifest_file *x = a, *y = b;
  long gx = group_rank(x, sort_npackages), gy = group_rank(y, sort_npackages);
  if (gx != gy)
    return gx < gy ? -1 : 1;
  return strcmp(x->path, y->path);
}

static int cmp_system(const void *a, const void *b) {
  const struct manifest_system_file *x = a, *y = b;
  if (x->folder != y->folder)
    return x->folder < y->folder ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int cmp_casepath(const void *a, const void *b) {
  return path_casecmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_blob(const void *a, const void *b) {
  return memcmp(((const struct manifest_blob *)a)->sha256,
                ((const struct manifest_blob *)b)->sha256, HASH_LEN);
}

/* Checks one group of names as a Windows file system would see them. */
static int check_group_names(char **paths, size_t n, const char **reason) {
  qsort(paths, n, sizeof *paths, cmp_casepath);
  for (size_t i = 1; i < n; i++) {
    if (path_casecmp(paths[i - 1], paths[i]) == 0) {
      *reason = "two paths differ only in case";
      return GPUPV_EMANIFEST;
    }
  }
  /* A file may not also be a parent folder of another file. */
  for (size_t i = 0; i < n; i++) {
    char prefix[PATH_MAX_LEN + 1];
    size_t len = strlen(paths[i]);
    memcpy(prefix, paths[i], len + 1);
    for (size_t j = len; j > 0; j--) {
      if (prefix[j] != '/')
        continue;
      prefix[j] = 0;
      char *key = prefix;
      if (bsearch(&key, paths, n, sizeof *paths, cmp_casepath)) {
        *reason = "a file is also used as a folder";
        return GPUPV_EMANIFEST;
      }
    }
  }
  return 0;
}

/* Each system file names a file of a package, and a file name that no other one in its
 * folder has, whatever the case. */
static int check_system_files(const struct manifest *m, const struct manifest_limits *lim,
                              const char **reason) {
  if (m->nsystem > lim->max_system_files) {
    *reason = "too many system files";
    return GPUPV_ELIMIT;
  }
  char **names = malloc((m->nsystem + 1) * sizeof *names);
  if (!names)
    return UV_ENOMEM;
  int err = GPUPV_EMANIFEST;
  size_t start = 0;
  sort_npackages = m->npackages;
  for (size_t i = 0; i < m->nsystem; i++) {
    const struct manifest_system_file *s = &m->system[i];
    if (s->package < 0 || (size_t)s->package >= m->npackages) {
      *reason = "system file refers to no package";
      goto out;
    }
    if (path_check_relative(s->path, reason) || path_check_component(s->name, reason)) {
      err = GPUPV_EPATH;
      goto out;
    }
    struct manifest_file key = {.path = s->path, .package = s->package};
    if (!bsearch(&key, m->files, m->nfiles, sizeof key, cmp_file)) {
      *reason = "system file is not a file of its package";
      goto out;
    }
    if (i && cmp_system(&m->system[i - 1], s) >= 0) {
      *reason = "system files not in canonical order";
      goto out;
    }
    names[i - start] = s->name;
    if (i + 1 == m->nsystem || m->system[i + 1].folder != s->folder) {
      if ((err = check_group_names(names, i + 1 - start, reason)))
        goto out;
      err = GPUPV_EMANIFEST;
      start = i + 1;
    }
  }
  err = 0;
out:
  free(names);
  return err;
}

static int manifest_check(const struct manifest *m, const struct manifest_limits *lim,
                          const char **reason) {
  char **paths = NULL;
  struct manifest_blob *blobs = NULL;
  size_t nblobs;
  int err = GPUPV_EMANIFEST;
  if (m->npackages > lim->max_packages || m->nfiles > lim->max_files) {
    *reason = "too many packages or files";
    return GPUPV_ELIMIT;
  }
  paths = malloc((m->npackages + m->nfiles + 1) * sizeof *paths);
  if (!paths)
    return UV_ENOMEM;
  for (size_t i = 0; i < m->npackages; i++) {
    if (path_check_component(m->packages[i].name, reason)) {
      err = GPUPV_EPATH;
      goto out;
    }
    if (i && strcmp(m->packages[i - 1].name, m->packages[i].name) >= 0) {
      *reason = "packages not in canonical order";
      goto out;
    }
    paths[i] = m->packages[i].name;
  }
  if ((err = check_group_names(paths, m->npackages, reason)))
    goto out;
  err = GPUPV_EMANIFEST;
  uint64_t total = 0;
  size_t start = 0;
  for (size_t i = 0; i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
    if (f->package != MANIFEST_LIB && (f->package < 0 || (size_t)f->package >= m->npackages)) {
      *reason = "file refers to no package";
      goto out;
    }
    if ((f->package == MANIFEST_LIB) != (f->origin != ORIGIN_NONE)) {
      *reason = "origin set on a package file or missing on a library";
      goto out;
    }
    if (path_check_relative(f->path, reason)) {
      err = GPUPV_EPATH;
      goto out;
    }
    if (f->mode > 0777) {
      *reason = "mode has more than permission bits";
      goto out;
    }
    if (f->size > lim->max_file_size || (total += f->size) > lim->max_total) {
      *reason = "file or total size over the limit";
      err = GPUPV_ELIMIT;
      goto out;
    }
    if (i > start) {
      sort_npackages = m->npackages;
      if (cmp_file(&m->files[i - 1], f) >= 0) {
        *reason = "files not in canonical order";
        goto out;
      }
    }
    int last = i + 1 == m->nfiles || m->files[i + 1].package != f->package;
    if (last) {
      for (size_t j = start; j <= i; j++)
        paths[j - start] = m->files[j].path;
      if ((err = check_group_names(paths, i + 1 - start, reason)))
        goto out;
      err = GPUPV_EMANIFEST;
      start = i + 1;
    }
  }
  if ((err = manifest_blobs(m, &blobs, &nblobs)))
    goto out;
  for (size_t i = 0; i < m->nfiles; i++) {
    long b = manifest_blob_find(blobs, nblobs, m->files[i].sha256);
    if (blobs[b].size != m->files[i].size) {
      *reason = "one hash with two sizes";
      err = GPUPV_EMANIFEST;
      goto out;
    }
  }
  err = check_system_files(m, lim, reason);
out:
  free(blobs);
  free(paths);
  return err;
}

static const struct manifest_package *sort_packages;
static int cmp_pkg(const void *a, const void *b) {
  return strcmp(sort_packages[*(const int *)a].name, sort_packages[*(const int *)b].name);
}

/* Puts packages and files into canonical order. */
static int manifest_sort(struct manifest *m) {
  int *order = malloc((m->npackages + 1) * sizeof *order);
  int *rank = malloc((m->npackages + 1) * sizeof *rank);
  struct manifest_package *sorted = malloc((m->npackages + 1) * sizeof *sorted);
  int err = UV_ENOMEM;
  if (!order || !rank || !sorted)
    goto out;
  for (size_t i = 0; i < m->npackages; i++)
    order[i] = (int)i;
  sort_packages = m->packages;
  qsort(order, m->npackages, sizeof *order, cmp_pkg);
  for (size_t i = 0; i < m->npackages; i++) {
    sorted[i] = m->packages[order[i]];
    rank[order[i]] = (int)i;
  }
  if (m->npackages)
    memcpy(m->packages, sorted, m->npackages * sizeof *sorted);
  for (size_t i = 0; i < m->nfiles; i++)
    if (m->files[i].package != MANIFEST_LIB)
      m->files[i].package = rank[m->files[i].package];
  for (size_t i = 0; i < m->nsystem; i++)
    m->system[i].package = rank[m->system[i].package];
  sort_npackages = m->npackages;
  if (m->nfiles)
    qsort(m->files, m->nfiles, sizeof *m->files, cmp_file);
  if (m->nsystem)
    qsort(m->system, m->nsystem, sizeof *m->system, cmp_system);
  err = 0;
out:
  free(order);
  free(rank);
  free(sorted);
  return err;
}

static cJSON *file_to_json(const struct manifest_file *f) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "path", f->path) ||
      !cJSON_AddNumberToObject(o, "size", (double)f->size) ||
      !cJSON_AddNumberToObject(o, "mode", f->mode) || msg_add_hash(o, "sha256", f->sha256) ||
      (f->origin != ORIGIN_NONE &&
       !cJSON_AddStringToObject(o, "origin", origin_names[f->origin]))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int add_nullable(cJSON *o, const char *key, const char *value) {
  return (value ? cJSON_AddStringToObject(o, key, value) : cJSON_AddNullToObject(o, key))
             ? 0
             : UV_ENOMEM;
}

static cJSON *manifest_to_json(const struct manifest *m) {
  cJSON *root = cJSON_CreateObject();
  cJSON *pkgs = root ? cJSON_AddArrayToObject(root, "packages") : NULL;
  cJSON *libs = NULL;
  if (!root || !cJSON_AddNumberToObject(root, "format", MANIFEST_FORMAT) || !pkgs)
    goto fail;
  /* "format" first reads better; cJSON keeps insertion order, so move it. */
  cJSON_DetachItemViaPointer(root, pkgs);
  cJSON_AddItemToObject(root, "packages", pkgs);
  size_t f = 0;
  for (size_t p = 0; p < m->npackages; p++) {
    cJSON *po = cJSON_CreateObject();
    if (!po)
      goto fail;
    cJSON_AddItemToArray(pkgs, po);
    if (!cJSON_AddStringToObject(po, "name", m->packages[p].name) ||
        add_nullable(po, "version", m->packages[p].version) ||
        add_nullable(po, "vendor", m->packages[p].vendor))
      goto fail;
    cJSON *files = cJSON_AddArrayToObject(po, "files");
    if (!files)
      goto fail;
    for (; f < m->nfiles && m->files[f].package == (int)p; f++) {
      cJSON *fo = file_to_json(&m->files[f]);
      if (!fo)
        goto fail;
      cJSON_AddItemToArray(files, fo);
    }
  }
  libs = cJSON_AddArrayToObject(root, "libs");
  if (!libs)
    goto fail;
  for (; f < m->nfiles; f++) {
    cJSON *fo = file_to_json(&m->files[f]);
    if (!fo)
      goto fail;
    cJSON_AddItemToArray(libs, fo);
  }
  /* absent when empty, so that a manifest without them is a format-1 manifest of old */
  cJSON *sys = m->nsystem ? cJSON_AddArrayToObject(root, "system_files") : NULL;
  if (m->nsystem && !sys)
    goto fail;
  for (size_t i = 0; i < m->nsystem; i++) {
    const struct manifest_system_file *s = &m->system[i];
    cJSON *so = cJSON_CreateObject();
    if (!so)
      goto fail;
    cJSON_AddItemToArray(sys, so);
    if (!cJSON_AddStringToObject(so, "package", m->packages[s->package].name) ||
        !cJSON_AddStringToObject(so, "path", s->path) ||
        !cJSON_AddStringToObject(so, "folder", manifest_sysdir_name(s->folder)) ||
        !cJSON_AddStringToObject(so, "name", s->name) ||
        !cJSON_AddStringToObject(so, "rule", manifest_rule_name(s->rule)))
      goto fail;
  }
  return root;
fail:
  cJSON_Delete(root);
  return NULL;
}

static int print_canonical(const struct manifest *m, struct buf *out) {
  cJSON *root = manifest_to_json(m);
  if (!root)
    return UV_ENOMEM;
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text)
    return UV_ENOMEM;
  int err = buf_append_str(out, text);
  cJSON_free(text);
  return err;
}

int manifest_encode(struct manifest *m, struct buf *out, const char **ret_reason) {
  const char *reason = "out of memory";
  int err = manifest_sort(m);
  if (!err)
    err = manifest_check(m, &MANIFEST_DEFAULT_LIMITS, &reason);
  size_t start = out->len;
  if (!err)
    err = print_canonical(m, out);
  if (err) {
    if (ret_reason)
      *ret_reason = reason;
    return err;
  }
  hash_bytes(out->data + start, out->len - start, m->id);
  return 0;
}

static int file_from_json(struct manifest *m, int package, const cJSON *fo, const char **reason) {
  const char *path, *origin_name;
  uint64_t size, mode;
  uint8_t sha[HASH_LEN];
  enum manifest_origin origin = ORIGIN_NONE;
  if (!cJSON_IsObject(fo) || msg_get_str(fo, "path", PATH_MAX_LEN, &path) ||
      msg_get_u64(fo, "size", MSG_U64_MAX, &size) || msg_get_u64(fo, "mode", 0777, &mode) ||
      msg_get_hash(fo, "sha256", sha) || msg_get_str_opt(fo, "origin", 16, &origin_name)) {
    *reason = "malformed file entry";
    return GPUPV_EMANIFEST;
  }
  if (package == MANIFEST_LIB) {
    if (!origin_name || (strcmp(origin_name, "inbox") && strcmp(origin_name, "packaged"))) {
      *reason = "library without a valid origin";
      return GPUPV_EMANIFEST;
    }
    origin = strcmp(origin_name, "inbox") == 0 ? ORIGIN_INBOX : ORIGIN_PACKAGED;
  }
  return manifest_add_file(m, package, path, size, (uint32_t)mode, sha, origin);
}

/* The index of a named one of the packages read so far, or -1. */
static int package_index(const struct manifest *m, const char *name) {
  for (size_t i = 0; i < m->npackages; i++)
    if (strcmp(m->packages[i].name, name) == 0)
      return (int)i;
  return -1;
}

static int system_file_from_json(struct manifest *m, const cJSON *so, const char **reason) {
  const char *package, *path, *folder, *name, *rule;
  if (!cJSON_IsObject(so) || msg_get_str(so, "package", PATH_MAX_COMPONENT, &package) ||
      msg_get_str(so, "path", PATH_MAX_LEN, &path) || msg_get_str(so, "folder", 16, &folder) ||
      msg_get_str(so, "name", PATH_MAX_COMPONENT, &name) || msg_get_str(so, "rule", 16, &rule)) {
    *reason = "malformed system file entry";
    return GPUPV_EMANIFEST;
  }
  int index = package_index(m, package);
  int wow = strcmp(folder, sysdir_names[SYSDIR_SYSWOW64]) == 0;
  int newer = strcmp(rule, rule_names[RULE_WHEN_NEWER]) == 0;
  if (index < 0) {
    *reason = "system file refers to no package";
    return GPUPV_EMANIFEST;
  }
  if ((!wow && strcmp(folder, sysdir_names[SYSDIR_SYSTEM32])) ||
      (!newer && strcmp(rule, rule_names[RULE_OVERWRITE]))) {
    *reason = "system file with an unknown folder or rule";
    return GPUPV_EMANIFEST;
  }
  return manifest_add_system_file(m, index, path, wow ? SYSDIR_SYSWOW64 : SYSDIR_SYSTEM32, name,
                                  newer ? RULE_WHEN_NEWER : RULE_OVERWRITE);
}

static int manifest_from_json(struct manifest *m, const cJSON *root,
                              const struct manifest_limits *lim, const char **reason) {
  uint64_t format;
  const cJSON *pkgs = cJSON_GetObjectItemCaseSensitive(root, "packages");
  const cJSON *libs = cJSON_GetObjectItemCaseSensitive(root, "libs");
  *reason = "malformed manifest";
  if (!cJSON_IsObject(root) || msg_get_u64(root, "format", 1000, &format) || !cJSON_IsArray(pkgs) ||
      !cJSON_IsArray(libs))
    return GPUPV_EMANIFEST;
  if (format != MANIFEST_FORMAT) {
    *reason = "unsupported manifest format";
    return GPUPV_EMANIFEST;
  }
  if ((size_t)cJSON_GetArraySize(pkgs) > lim->max_packages) {
    *reason = "too many packages";
    return GPUPV_ELIMIT;
  }
  const cJSON *po, *fo;
  cJSON_ArrayForEach(po, pkgs) {
    const char *name, *version, *vendor;
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(po, "files");
    if (!cJSON_IsObject(po) || msg_get_str(po, "name", PATH_MAX_COMPONENT, &name) ||
        msg_get_str_opt(po, "version", 256, &version) ||
        msg_get_str_opt(po, "vendor", 256, &vendor) || !cJSON_IsArray(files)) {
      *reason = "malformed package entry";
      return GPUPV_EMANIFEST;
    }
    int index, err = manifest_add_package(m, name, version, vendor, &index);
    if (err)
      return err;
    cJSON_ArrayForEach(fo, files) {
      if (m->nfiles >= lim->max_files) {
        *reason = "too many files";
        return GPUPV_ELIMIT;
      }
      if ((err = file_from_json(m, index, fo, reason)))
        return err;
    }
  }
  cJSON_ArrayForEach(fo, libs) {
    if (m->nfiles >= lim->max_files) {
      *reason = "too many files";
      return GPUPV_ELIMIT;
    }
    int err = file_from_json(m, MANIFEST_LIB, fo, reason);
    if (err)
      return err;
  }
  const cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "system_files");
  if (sys && !cJSON_IsArray(sys)) {
    *reason = "malformed system_files";
    return GPUPV_EMANIFEST;
  }
  cJSON_ArrayForEach(fo, sys) {
    if (m->nsystem >= lim->max_system_files) {
      *reason = "too many system files";
      return GPUPV_ELIMIT;
    }
    int err = system_file_from_json(m, fo, reason);
    if (err)
      return err;
  }
  return manifest_check(m, lim, reason);
}

/* A canonical manifest spends over 20 bytes a value (a file is ~100 bytes in 5 values, the hash
 * alone 70): anything denser is not one, and is refused before cJSON builds its tree. */
#define MANIFEST_BYTES_PER_VALUE 16

/* The JSON values in data, counted from its structure outside strings. */
static size_t json_values(const uint8_t *data, size_t len) {
  size_t values = 1;
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = data[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if (c == ',' || c == '[' || c == '{') {
      values++;
    }
  }
  return values;
}

int manifest_decode(const uint8_t *data, size_t len, const struct manifest_limits *limits,
                    struct manifest **ret, const char **ret_reason) {
  const char *reason = "out of memory";
  struct buf again;
  buf_init(&again);
  cJSON *root = NULL;
  struct manifest *m = calloc(1, sizeof *m);
  int err = UV_ENOMEM;
  if (!m)
    goto out;
  if (len > limits->max_bytes) {
    reason = "manifest larger than the limit";
    err = GPUPV_ELIMIT;
    goto out;
  }
  /* a parse tree costs ~64 bytes a value: count them first, so that a manifest of bare
   * numbers cannot make us build one 30 times its size */
  if (json_values(data, len) > len / MANIFEST_BYTES_PER_VALUE + 64) {
    reason = "manifest holds more JSON values than a manifest of that size can";
    err = GPUPV_ELIMIT;
    goto out;
  }
  root = cJSON_ParseWithLength((const char *)data, len);
  if (!root) {
    reason = "manifest is not JSON";
    err = GPUPV_EMANIFEST;
    goto out;
  }
  if ((err = manifest_from_json(m, root, limits, &reason)))
    goto out;
  /* Only the canonical encoding is accepted, so equal content always has an equal id. */
  if ((err = print_canonical(m, &again)))
    goto out;
  if (again.len != len || memcmp(again.data, data, len) != 0) {
    reason = "manifest is not in canonical encoding";
    err = GPUPV_EMANIFEST;
    goto out;
  }
  hash_bytes(data, len, m->id);
  *ret = m;
  m = NULL;
out:
  if (err && ret_reason)
    *ret_reason = reason;
  manifest_free(m);
  cJSON_Delete(root);
  buf_done(&again);
  return err;
}

int manifest_encode_without_system(const struct manifest *m, struct buf *out,
                                   uint8_t id[HASH_LEN]) {
  struct manifest plain = *m;
  plain.system = NULL;
  plain.nsystem = 0;
  size_t start = out->len;
  int err = print_canonical(&plain, out);
  if (!err)
    hash_bytes(out->data + start, out->len - start, id);
  return err;
}

int manifest_blobs(const struct manifest *m, struct manifest_blob **ret, size_t *ret_count) {
  struct manifest_blob *b = malloc((m->nfiles + 1) * sizeof *b);
  if (!b)
    return UV_ENOMEM;
  for (size_t i = 0; i < m->nfiles; i++) {
    memcpy(b[i].sha256, m->files[i].sha256, HASH_LEN);
    b[i].size = m->files[i].size;
    b[i].file = i;
  }
  /* Ties keep the lowest file index first so the result does not depend on qsort. */
  qsort(b, m->nfiles, sizeof *b, cmp_blob);
  size_t n = 0;
  for (size_t i = 0; i < m->nfiles; i++) {
    if (n && memcmp(b[n - 1].sha256, b[i].sha256, HASH_LEN) == 0) {
      if (b[i].file < b[n - 1].file)
        b[n - 1].file = b[i].file;
      continue;
    }
    b[n++] = b[i];
  }
  *ret = b;
  *ret_count = n;
  return 0;
}

long manifest_blob_find(const struct manifest_blob *blobs, size_t count,
                        const uint8_t sha256[HASH_LEN]) {
  struct manifest_blob key;
  memcpy(key.sha256, sha256, HASH_LEN);
  const struct manifest_blob *hit = bsearch(&key, blobs, count, sizeof key, cmp_blob);
  return hit ? (long)(hit - blobs) : -1;
}

uint64_t manifest_total_size(const struct manifest *m) {
  uint64_t total = 0;
  for (size_t i = 0; i < m->nfiles; i++)
    total += m->files[i].size;
  return total;
}

char *manifest_file_dest(const struct manifest *m, const struct manifest_file *f) {
  const char *group = f->package == MANIFEST_LIB ? "lib" : "drivers";
  const char *pkg = f->package == MANIFEST_LIB ? "" : m->packages[f->package].name;
  size_t n = strlen(group) + strlen(pkg) + strlen(f->path) + 3;
  char *p = malloc(n);
  if (p) {
    if (*pkg)
      snprintf(p, n, "%s/%s/%s", group, pkg, f->path);
    else
      snprintf(p, n, "%s/%s", group, f->path);
  }
  return p;
}

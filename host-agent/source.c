#include "host-agent/source.h"

#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/path.h"
#include "host-agent/hash-cache.h"
#include "host-agent/inf.h"
#include "host-agent/msix.h"
#include "host-agent/stamps.h"
#include "host-agent/system-files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define INF_MAX_BYTES (4u << 20)

struct scan {
  const struct source_config *cfg;
  struct generation *g;
  struct hash_cache *cache;
  struct stamps *seen; /* or NULL */
  char *err;
  size_t err_size;
  /* the archive being walked, for msix entries */
  const char *archive;
  const char *inner;
  struct fs_info archive_info;
};

static int add_ref(struct generation *g, const char *path, const char *inner, const char *member,
                   size_t *ret_tag) {
  struct source_ref *r = realloc(g->refs_by_tag, (g->nrefs + 1) * sizeof *r);
  if (!r)
    return UV_ENOMEM;
  g->refs_by_tag = r;
  struct source_ref ref = {strdup(path), inner && *inner ? strdup(inner) : NULL,
                           member ? strdup(member) : NULL};
  if (!ref.path || (inner && *inner && !ref.inner) || (member && !ref.member)) {
    free(ref.path), free(ref.inner), free(ref.member);
    return UV_ENOMEM;
  }
  r[g->nrefs] = ref;
  *ret_tag = g->nrefs++;
  return 0;
}

static int add_file(struct scan *s, int package, const char *rel, uint64_t size, uint32_t mode,
                    const uint8_t digest[HASH_LEN], enum manifest_origin origin, const char *path,
                    const char *member) {
  size_t tag;
  int err = add_ref(s->g, path, s->inner, member, &tag);
  if (!err)
    err = manifest_add_file(&s->g->m, package, rel, size, mode, digest, origin);
  if (!err)
    s->g->m.files[s->g->m.nfiles - 1].tag = tag;
  s->g->stats.files++;
  s->g->stats.bytes += size;
  return err;
}

static int hash_file(struct scan *s, const char *path, struct fs_info *st,
                     uint8_t digest[HASH_LEN]) {
  int fd;
  int err = fs_open_read(path, &fd);
  if (err)
    return err;
  if ((err = fs_info_fd(fd, st)) || (s->seen && (err = stamps_add(s->seen, path, st))))
    goto out;
  struct hash_cache_key key = {path, st->size, st->mtime_ns, st->id};
  if (s->cache && hash_cache_lookup(s->cache, &key, digest))
    goto out;
  uint64_t n = 0;
  if ((err = hash_fd(fd, digest, &n)))
    goto out;
  if (n != st->size) {
    err = UV_EAGAIN; /* changed while we read it */
    goto out;
  }
  s->g->stats.files_hashed++;
  s->g->stats.bytes_hashed += n;
  if (s->cache)
    err = hash_cache_put(s->cache, &key, digest);
out:
  fs_close(fd);
  return err;
}

/* Adds every regular file under dir (recursively) with paths relative to the walk's root. */
/* Notes a folder as it is before it is listed, so that an entry added after is seen. */
static int stamp_dir(struct scan *s, const char *dir) {
  int err = s->seen ? stamps_add_now(s->seen, dir) : 0;
  if (err)
    snprintf(s->err, s->err_size, "%s: %s", dir, uv_strerror(err));
  return err;
}

static int walk_tree(struct scan *s, const char *dir, const char *rel, int package,
                     enum manifest_origin origin) {
  char **names;
  size_t n;
  int err = stamp_dir(s, dir);
  if (err)
    return err;
  err = fs_list_dir(dir, &names, &n);
  if (err) {
    snprintf(s->err, s->err_size, "reading %s: %s", dir, uv_strerror(err));
    return err;
  }
  for (size_t i = 0; !err && i < n; i++) {
    char *path = path_join(dir, names[i]);
    char *sub = *rel ? path_join(rel, names[i]) : strdup(names[i]);
    struct fs_info st;
    if (!path || !sub) {
      err = UV_ENOMEM;
    } else if ((err = fs_info_path(path, &st))) {
      snprintf(s->err, s->err_size, "%s: %s", path, uv_strerror(err));
    } else if (st.type == FS_DIR) {
      err = walk_tree(s, path, sub, package, origin);
    } else if (st.type != FS_FILE) {
      log_warn("skipping %s: not a regular file", path);
      s->g->stats.skipped++;
    } else {
      uint8_t digest[HASH_LEN];
      if ((err = hash_file(s, path, &st, digest)))
        snprintf(s->err, s->err_size, "hashing %s: %s", path,
                 err == UV_EAGAIN ? "file changed while it was read" : uv_strerror(err));
      else
        err = add_file(s, package, sub, st.size, st.mode & 0777, digest, origin, path, NULL);
    }
    free(path);
    free(sub);
  }
  fs_names_free(names, n);
  return err;
}

/* The package's first top-level .inf into text (left empty when there is none). */
static void read_package_inf(const char *dir, struct buf *text) {
  char **names;
  size_t n;
  if (fs_list_dir(dir, &names, &n))
    return;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]);
    if (len < 4 || path_casecmp(names[i] + len - 4, ".inf") != 0)
      continue;
    char *path = path_join(dir, names[i]);
    if (!path || fs_read_file(path, INF_MAX_BYTES, text) != 0)
      text->len = 0; /* unreadable: no version, no CopyToVm lists */
    free(path);
    break;
  }
  fs_names_free(names, n);
}

/* The files the INF declares for VMs, as system files of package; unless --system-file gave
 * the list. */
static int add_inf_system_files(struct scan *s, int package, const struct buf *inf,
                                const char *dir) {
  if (s->cfg->nsystem_specs)
    return 0;
  /* the installed driver's registry says what its INF wrote for this device: it wins */
  const char *name = s->g->m.packages[package].name;
  for (size_t i = 0; i < s->cfg->nregistry_lists; i++) {
    const struct package_copy_list *r = &s->cfg->registry_lists[i];
    if (strcmp(r->package, name) != 0)
      continue;
    size_t missing = 0;
    int err = system_files_from_inf(&s->g->m, package, r->list, r->n, &missing);
    if (!err && missing)
      log_warn("%s: %zu of the files its driver key lists for VMs (CopyToVm) are not in the "
               "package; left out",
               dir, missing);
    return err;
  }
  if (!inf->len)
    return 0;
  struct inf_copy *list;
  size_t n, missing = 0;
  int err = inf_read_copy_to_vm(inf->data, inf->len, &list, &n);
  if (!err)
    err = system_files_from_inf(&s->g->m, package, list, n, &missing);
  if (!err && missing)
    log_warn("%s: %zu of the files its INF declares for VMs (CopyToVm) are not in the package; "
             "left out",
             dir, missing);
  free(list);
  return err;
}

static int scan_package(struct scan *s, const char *name) {
  const char *reason;
  if (path_check_component(name, &reason)) {
    snprintf(s->err, s->err_size, "package name '%s': %s", name, reason);
    return GPUPV_EPATH;
  }
  char *dir = path_join(s->cfg->driver_store, name);
  if (!dir)
    return UV_ENOMEM;
  int err = 0, index;
  char version[128], vendor[128];
  if (!fs_is_dir(dir)) {
    snprintf(s->err, s->err_size, "package %s: no such folder in %s", name, s->cfg->driver_store);
    err = UV_ENOENT;
    goto out;
  }
  struct buf inf;
  buf_init(&inf);
  read_package_inf(dir, &inf);
  inf_read_version(inf.data, inf.len, version, sizeof version, vendor, sizeof vendor);
  if (!(err = manifest_add_package(&s->g->m, name, *version ? version : NULL,
                                   *vendor ? vendor : NULL, &index)) &&
      !(err = walk_tree(s, dir, "", index, ORIGIN_NONE)))
    err = add_inf_system_files(s, index, &inf, dir);
  buf_done(&inf);
out:
  free(dir);
  return err;
}

static int scan_packages(struct scan *s) {
  const struct strlist *want = s->cfg->packages;
  int err = stamp_dir(s, s->cfg->driver_store);
  if (err)
    return err;
  if (want && want->n) {
    for (size_t i = 0; i < want->n; i++) {
      err = scan_package(s, want->items[i]);
      if (err)
        return err;
    }
    return 0;
  }
  char **names;
  size_t n;
  err = fs_list_dir(s->cfg->driver_store, &names, &n);
  if (err) {
    snprintf(s->err, s->err_size, "driver store %s: %s", s->cfg->driver_store, uv_strerror(err));
    return err;
  }
  for (size_t i = 0; !err && i < n; i++) {
    char *dir = path_join(s->cfg->driver_store, names[i]);
    if (!dir)
      err = UV_ENOMEM;
    else if (fs_is_dir(dir))
      err = scan_package(s, names[i]);
    free(dir);
  }
  fs_names_free(names, n);
  return err;
}

static int on_msix_entry(void *ctx, struct msix_reader *r, const char *inner, const char *name,
                         uint64_t size) {
  struct scan *s = ctx;
  s->inner = inner;
  char key[2200];
  snprintf(key, sizeof key, "%s!%s!%s", s->archive, s->inner ? s->inner : "", name);
  struct hash_cache_key k = {key, size, s->archive_info.mtime_ns, s->archive_info.id};
  uint8_t digest[HASH_LEN];
  if (!s->cache || !hash_cache_lookup(s->cache, &k, digest)) {
    struct hash_ctx h;
    uint8_t block[65536];
    uint64_t total = 0;
    int err = hash_init(&h);
    if (err)
      return err;
    ssize_t n;
    while ((n = msix_reader_read(r, block, sizeof block)) > 0) {
      hash_update(&h, block, (size_t)n);
      total += (uint64_t)n;
    }
    if (n < 0 || total != size) {
      hash_done(&h);
      snprintf(s->err, s->err_size, "%s: cannot read lib/%s", s->archive, name);
      return UV_EIO;
    }
    hash_final(&h, digest);
    s->g->stats.files_hashed++;
    s->g->stats.bytes_hashed += size;
    if (s->cache && (err = hash_cache_put(s->cache, &k, digest)))
      return err;
  }
  return add_file(s, MANIFEST_LIB, name, size, 0755, digest, ORIGIN_PACKAGED, s->archive, name);
}

/* The folder that holds path, new; "." when there is none. */
static char *parent_of(const char *path) {
  const char *slash = strrchr(path, '/'), *back = strrchr(path, '\\');
  if (back && (!slash || back > slash))
    slash = back;
  if (!slash)
    return strdup(".");
  size_t len = (size_t)(slash - path);
  if (len == 0 || (len == 2 && path[1] == ':'))
    len++; /* "/" or "C:\\" */
  char *dir = malloc(len + 1);
  if (dir)
    memcpy(dir, path, len), dir[len] = 0;
  return dir;
}

static int scan_msix(struct scan *s) {
  char inner[256];
  s->archive = s->cfg->wsl_msix;
  /* an update replaces the package file: its folder says so */
  char *folder = parent_of(s->archive);
  int err = folder ? stamp_dir(s, folder) : UV_ENOMEM;
  free(folder);
  if (err)
    return err;
  err = fs_info_path(s->archive, &s->archive_info);
  if (!err && s->seen)
    err = stamps_add(s->seen, s->archive, &s->archive_info);
  if (err) {
    snprintf(s->err, s->err_size, "WSL package %s: %s", s->archive, uv_strerror(err));
    return err;
  }
  err = msix_foreach_lib(s->archive, on_msix_entry, s, inner, sizeof inner, s->err, s->err_size);
  s->archive = NULL;
  s->inner = NULL;
  return err;
}

/* Keeps one library per name: the packaged one wins over the inbox one, as in WSL. */
static void drop_shadowed_inbox_libs(struct manifest *m) {
  size_t out = 0;
  for (size_t i = 0; i < m->nfiles; i++) {
    struct manifest_file *f = &m->files[i];
    int shadowed = 0;
    if (f->package == MANIFEST_LIB && f->origin == ORIGIN_INBOX)
      for (size_t j = 0; j < m->nfiles && !shadowed; j++)
        shadowed = m->files[j].package == MANIFEST_LIB && m->files[j].origin == ORIGIN_PACKAGED &&
                   path_casecmp(m->files[j].path, f->path) == 0;
    if (shadowed)
      free(f->path);
    else
      m->files[out++] = *f;
  }
  m->nfiles = out;
}

int source_scan(const struct source_config *cfg, struct stamps *seen, struct generation **ret,
                char *err, size_t err_size) {
  struct scan s = {.cfg = cfg, .seen = seen, .err = err, .err_size = err_size};
  int rc = UV_ENOMEM;
  snprintf(err, err_size, "out of memory");
  if (!(s.g = calloc(1, sizeof *s.g)))
    return rc;
  s.g->refs = 1;
  buf_init(&s.g->encoded);
  buf_init(&s.g->plain_encoded);
  if (cfg->cache_path && (rc = hash_cache_load(cfg->cache_path, &s.cache)))
    goto out;
  if (cfg->driver_store && (rc = scan_packages(&s)))
    goto out;
  if (cfg->lib_inbox && (rc = walk_tree(&s, cfg->lib_inbox, "", MANIFEST_LIB, ORIGIN_INBOX)))
    goto out;
  if (cfg->lib_packaged &&
      (rc = walk_tree(&s, cfg->lib_packaged, "", MANIFEST_LIB, ORIGIN_PACKAGED)))
    goto out;
  if (cfg->wsl_msix && (rc = scan_msix(&s)))
    goto out;
  drop_shadowed_inbox_libs(&s.g->m);
  if (cfg->nsystem_specs &&
      (rc = system_files_from_specs(&s.g->m, cfg->system_specs, cfg->nsystem_specs, err, err_size)))
    goto out;
  const char *reason = NULL;
  if ((rc = manifest_encode(&s.g->m, &s.g->encoded, &reason))) {
    snprintf(err, err_size, "cannot publish this source: %s", reason ? reason : gpupv_strerror(rc));
    goto out;
  }
  /* the plain form is a second encoding only when there are system files to leave out */
  if ((rc = manifest_blobs(&s.g->m, &s.g->blobs, &s.g->nblobs)) ||
      (s.g->m.nsystem &&
       (rc = manifest_encode_without_system(&s.g->m, &s.g->plain_encoded, s.g->plain_id))))
    goto out;
  if (!s.g->m.nsystem)
    memcpy(s.g->plain_id, s.g->m.id, HASH_LEN);
  hash_to_hex(s.g->m.id, s.g->id_hex);
  hash_to_hex(s.g->plain_id, s.g->plain_id_hex);
  if (s.cache && (rc = hash_cache_save(s.cache, cfg->cache_path)))
    log_warn("saving hash cache %s: %s", cfg->cache_path, uv_strerror(rc));
  rc = 0;
  *ret = s.g;
  s.g = NULL;
out:
  hash_cache_free(s.cache);
  generation_unref(s.g);
  return rc;
}

struct generation *generation_ref(struct generation *g) {
  g->refs++;
  return g;
}

void generation_unref(struct generation *g) {
  if (!g || --g->refs > 0)
    return;
  manifest_done(&g->m);
  buf_done(&g->encoded);
  buf_done(&g->plain_encoded);
  free(g->blobs);
  for (size_t i = 0; i < g->nrefs; i++) {
    free(g->refs_by_tag[i].path);
    free(g->refs_by_tag[i].inner);
    free(g->refs_by_tag[i].member);
  }
  free(g->refs_by_tag);
  free(g);
}

struct generation_form generation_form(const struct generation *g, int system_files) {
  if (system_files || !g->m.nsystem)
    return (struct generation_form){&g->encoded, g->m.id, g->id_hex};
  return (struct generation_form){&g->plain_encoded, g->plain_id, g->plain_id_hex};
}

const struct source_ref *generation_blob_ref(const struct generation *g, size_t b) {
  return &g->refs_by_tag[g->m.files[g->blobs[b].file].tag];
}

struct source_reader {
  int fd;
  struct msix_reader *archive;
};

int source_open(const struct source_ref *ref, uint64_t size, struct source_reader **ret) {
  struct source_reader *r = calloc(1, sizeof *r);
  if (!r)
    return UV_ENOMEM;
  r->fd = -1;
  int err;
  if (ref->member) {
    err = msix_open(ref->path, ref->inner, ref->member, &r->archive);
  } else {
    struct fs_info st;
    err = fs_open_read(ref->path, &r->fd);
    if (!err && !(err = fs_info_fd(r->fd, &st)) && st.size != size)
      err = UV_EAGAIN; /* the source changed since the scan */
  }
  if (err) {
    source_close(r);
    return err;
  }
  *ret = r;
  return 0;
}

ssize_t source_read(struct source_reader *r, void *buf, size_t n) {
  if (r->archive)
    return msix_reader_read(r->archive, buf, n);
  size_t got = 0;
  while (got < n) {
    int64_t k = fs_read(r->fd, (char *)buf + got, n - got);
    if (k < 0)
      return (ssize_t)k;
    if (k == 0)
      break;
    got += (size_t)k;
  }
  return (ssize_t)got;
}

void source_close(struct source_reader *r) {
  if (!r)
    return;
  if (r->fd >= 0)
    fs_close(r->fd);
  msix_reader_close(r->archive);
  free(r);
}

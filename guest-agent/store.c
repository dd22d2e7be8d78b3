/* The guest's generations: planning, staging blobs, building and pruning (store.h). */
#include "guest-agent/store.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/path.h"
#include "guest-agent/store-platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define GENERATIONS "generations"

int store_init(struct store *s, const char *root) {
  memset(s, 0, sizeof *s);
  if (strlen(root) >= sizeof s->root - 64)
    return GPUPV_ELIMIT;
  snprintf(s->root, sizeof s->root, "%s", root);
  size_t n = strlen(s->root);
  while (n > 1 && (s->root[n - 1] == '/' || s->root[n - 1] == '\\'))
    s->root[--n] = 0;
  store_platform_paths(s);
  snprintf(s->objects, sizeof s->objects, "%s/staging/objects", s->base);
  return 0;
}

int store_current(const struct store *s, uint8_t ret[HASH_LEN]) {
  return store_platform_pointer(s, "current", ret);
}

int store_previous(const struct store *s, uint8_t ret[HASH_LEN]) {
  return store_platform_pointer(s, "previous", ret);
}

void store_generation_dir(const struct store *s, const uint8_t id[HASH_LEN], char *out,
                          size_t size) {
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(id, hex);
  snprintf(out, size, "%s/" GENERATIONS "/%s", s->base, hex);
}

/* Where installed content can be found by hash: files of kept generations. */
struct index_entry {
  uint8_t sha256[HASH_LEN];
  char *path;
};

struct index {
  struct index_entry *e;
  size_t n;
};

static int cmp_index(const void *a, const void *b) {
  return memcmp(((const struct index_entry *)a)->sha256, ((const struct index_entry *)b)->sha256,
                HASH_LEN);
}

static void index_done(struct index *ix) {
  for (size_t i = 0; i < ix->n; i++)
    free(ix->e[i].path);
  free(ix->e);
  ix->e = NULL;
  ix->n = 0;
}

struct manifest *store_generation_manifest(const struct store *s, const uint8_t id[HASH_LEN]) {
  char dir[1400], path[1500];
  store_generation_dir(s, id, dir, sizeof dir);
  snprintf(path, sizeof path, "%s.manifest", dir);
  struct buf text;
  buf_init(&text);
  struct manifest *m = NULL;
  if (fs_read_file(path, MANIFEST_DEFAULT_LIMITS.max_bytes, &text) == 0)
    manifest_decode(text.data, text.len, &MANIFEST_DEFAULT_LIMITS, &m, NULL);
  buf_done(&text);
  return m;
}

/* Adds the files of an installed generation; a generation that cannot be read adds nothing. */
static int index_add_generation(const struct store *s, struct index *ix,
                                const uint8_t id[HASH_LEN]) {
  char dir[1400];
  struct manifest *m = store_generation_manifest(s, id);
  if (!m)
    return 0;
  store_generation_dir(s, id, dir, sizeof dir);
  int err = 0;
  struct index_entry *grown = realloc(ix->e, (ix->n + m->nfiles + 1) * sizeof *grown);
  err = grown ? 0 : UV_ENOMEM;
  if (grown)
    ix->e = grown;
  for (size_t i = 0; !err && i < m->nfiles; i++) {
    if (!store_platform_wants(m, &m->files[i]))
      continue;
    char *rel = manifest_file_dest(m, &m->files[i]);
    char *full = rel ? path_join(dir, rel) : NULL;
    free(rel);
    if (!full) {
      err = UV_ENOMEM;
      break;
    }
    memcpy(ix->e[ix->n].sha256, m->files[i].sha256, HASH_LEN);
    ix->e[ix->n++].path = full;
  }
  manifest_free(m);
  return err;
}

static int index_load(const struct store *s, struct index *ix) {
  uint8_t id[HASH_LEN];
  int err = 0;
  ix->e = NULL;
  ix->n = 0;
  if (store_current(s, id))
    err = index_add_generation(s, ix, id);
  if (!err && store_previous(s, id))
    err = index_add_generation(s, ix, id);
  if (!err && ix->n)
    qsort(ix->e, ix->n, sizeof *ix->e, cmp_index);
  return err;
}

static const char *index_find(const struct index *ix, const uint8_t sha256[HASH_LEN]) {
  struct index_entry key;
  if (!ix->n)
    return NULL;
  memcpy(key.sha256, sha256, HASH_LEN);
  const struct index_entry *e = bsearch(&key, ix->e, ix->n, sizeof key, cmp_index);
  return e ? e->path : NULL;
}

static void object_path(const struct store *s, const uint8_t sha256[HASH_LEN], const char *suffix,
                        char *out, size_t size) {
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(sha256, hex);
  snprintf(out, size, "%s/%s%s", s->objects, hex, suffix);
}

/* Marks the blobs that some file this platform installs has; *ret is new (one flag a blob). */
static int wanted_blobs(const struct manifest *m, const struct manifest_blob *blobs, size_t n,
                        uint8_t **ret) {
  uint8_t *wanted = calloc(n + 1, 1);
  if (!wanted)
    return UV_ENOMEM;
  for (size_t i = 0; i < m->nfiles; i++) {
    long b = store_platform_wants(m, &m->files[i])
                 ? manifest_blob_find(blobs, n, m->files[i].sha256)
                 : -1;
    if (b >= 0)
      wanted[b] = 1;
  }
  *ret = wanted;
  return 0;
}

/*
 * 1 when the staged object at path really holds the blob: its size and its content are
 * checked again, because a staged object is trusted by nothing but its name (a power cut can
 * leave it short, a careless admin can edit it). A bad one is removed, to be fetched again.
 */
static int staged_holds(const char *path, const struct manifest_blob *blob) {
  struct fs_info info;
  if (fs_info_path(path, &info))
    return 0;
  int fd, ok = 0;
  if (info.type == FS_FILE && info.size == blob->size && fs_open_read(path, &fd) == 0) {
    uint8_t got[HASH_LEN];
    uint64_t n = 0;
    ok = hash_fd(fd, got, &n) == 0 && n == blob->size && memcmp(got, blob->sha256, HASH_LEN) == 0;
    fs_close(fd);
  }
  if (!ok) {
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(blob->sha256, hex);
    log_warn("staged object %.16s does not hold its content; fetching it again", hex);
    fs_remove_tree(path);
  }
  return ok;
}

/* 1 when generation id is built: its folder and its completion marker (the manifest, written
 * last and removed first) are there. A folder without a marker is rebuilt, never trusted. */
static int generation_complete(const struct store *s, const uint8_t id[HASH_LEN]) {
  char dir[1400], marker[1500];
  store_generation_dir(s, id, dir, sizeof dir);
  snprintf(marker, sizeof marker, "%s.manifest", dir);
  return fs_is_dir(dir) && fs_exists(marker);
}

int store_plan(const struct store *s, const struct manifest *m, uint8_t **ret, size_t *ret_count,
               uint64_t *ret_bytes) {
  struct index ix;
  struct manifest_blob *blobs = NULL;
  size_t nblobs = 0, n = 0;
  uint64_t bytes = 0;
  uint8_t *want = NULL, *wanted = NULL;
  int err = store_platform_recover(s);
  if (err)
    log_warn("finishing an interrupted switch: %s", gpupv_strerror(err));
  if ((err = index_load(s, &ix)))
    return err;
  if ((err = manifest_blobs(m, &blobs, &nblobs)) || (err = wanted_blobs(m, blobs, nblobs, &wanted)))
    goto out;
  err = UV_ENOMEM;
  if (!(want = malloc(nblobs * HASH_LEN + 1)))
    goto out;
  err = 0;
  if (generation_complete(s, m->id))
    goto done; /* already built, e.g. the previous generation coming back */
  for (size_t i = 0; i < nblobs; i++) {
    char obj[1500];
    object_path(s, blobs[i].sha256, "", obj, sizeof obj);
    if (blobs[i].size == 0 || !wanted[i] || index_find(&ix, blobs[i].sha256) ||
        (fs_exists(obj) && staged_holds(obj, &blobs[i])))
      continue;
    memcpy(want + n * HASH_LEN, blobs[i].sha256, HASH_LEN);
    n++;
    bytes += blobs[i].size;
  }
done:
  *ret = want;
  want = NULL;
  *ret_count = n;
  *ret_bytes = bytes;
out:
  free(want);
  free(wanted);
  free(blobs);
  index_done(&ix);
  return err;
}

struct store_blob {
  int fd;
  uint8_t expect[HASH_LEN];
  char part[1500], final[1500];
};

int store_blob_open(const struct store *s, const uint8_t sha256[HASH_LEN],
                    struct store_blob **ret) {
  int err = fs_mkdir_p(s->objects, 0755);
  if (err)
    return err;
  struct store_blob *b = calloc(1, sizeof *b);
  if (!b)
    return UV_ENOMEM;
  memcpy(b->expect, sha256, HASH_LEN);
  object_path(s, sha256, ".part", b->part, sizeof b->part);
  object_path(s, sha256, "", b->final, sizeof b->final);
  if ((err = fs_open_new(b->part, 0644, 0, &b->fd))) {
    free(b);
    return err;
  }
  *ret = b;
  return 0;
}

int store_blob_write(struct store_blob *b, const void *data, size_t len) {
  return fs_write_all(b->fd, data, len);
}

void store_blob_abort(struct store_blob *b) {
  if (!b)
    return;
  fs_close(b->fd);
  fs_unlink(b->part);
  free(b);
}

int store_blob_finish(struct store_blob *b, const uint8_t got[HASH_LEN]) {
  /* Start writeback now, without waiting, so the sync before the switch has less to do. */
  fs_start_writeback(b->fd);
  int err = fs_close(b->fd);
  b->fd = -1;
  if (!err && memcmp(got, b->expect, HASH_LEN) != 0)
    err = GPUPV_EHASH;
  /* Durability comes from one sync before the switch, not an fsync per blob. */
  if (!err)
    err = fs_rename(b->part, b->final);
  if (err)
    fs_unlink(b->part);
  free(b);
  return err;
}

/* Creates the parent folders of rel under dir; dir is fresh, so nothing here is a link. */
static int make_parents(const char *dir, const char *rel) {
  char path[2600];
  int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
  if (n < 0 || (size_t)n >= sizeof path)
    return GPUPV_ELIMIT;
  char *slash = strrchr(path, '/');
  size_t base = strlen(dir);
  int err;
  for (char *p = path + base + 1; p < slash; p++) {
    if (*p != '/')
      continue;
    *p = 0;
    if ((err = fs_mkdir(path, 0755)) && err != UV_EEXIST)
      return err;
    *p = '/';
  }
  *slash = 0;
  if ((err = fs_mkdir(path, 0755)) && err != UV_EEXIST)
    return err;
  return fs_is_dir(path) ? 0 : GPUPV_EPATH;
}

static int create_empty(const char *path, int mode) {
  int fd;
  int err = fs_open_new(path, mode, 1, &fd);
  if (err)
    return err;
  err = fs_fchmod(fd, mode);
  int close_err = fs_close(fd);
  return err ? err : close_err;
}

static int build_generation(const struct store *s, const struct manifest *m, const char *build,
                            char *err_text, size_t err_size) {
  struct index ix;
  char path[2600];
  int err = index_load(s, &ix);
  if (err)
    return err;
  snprintf(path, sizeof path, "%s/drivers", build);
  if ((err = fs_mkdir_p(path, 0755)))
    goto out;
  snprintf(path, sizeof path, "%s/lib", build);
  if ((err = fs_mkdir_p(path, 0755)))
    goto out;
  for (size_t i = 0; i < m->npackages; i++) {
    snprintf(path, sizeof path, "%s/drivers/%s", build, m->packages[i].name);
    if ((err = fs_mkdir(path, 0755)))
      goto out;
  }
  for (size_t i = 0; i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
    if (!store_platform_wants(m, f))
      continue;
    char *rel = manifest_file_dest(m, f);
    if (!rel) {
      err = UV_ENOMEM;
      goto out;
    }
    err = make_parents(build, rel);
    snprintf(path, sizeof path, "%s/%s", build, rel);
    free(rel);
    if (err)
      goto fail_file;
    if (f->size == 0) {
      if ((err = create_empty(path, (int)f->mode)))
        goto fail_file;
      continue;
    }
    char obj[1500];
    object_path(s, f->sha256, "", obj, sizeof obj);
    int staged = fs_exists(obj);
    const char *src = staged ? obj : index_find(&ix, f->sha256);
    if (!src) {
      snprintf(err_text, err_size, "content of %s was never received", f->path);
      err = UV_ENOENT;
      goto out;
    }
    if ((err = store_platform_place(src, path, (int)f->mode, staged)))
      goto fail_file;
  }
  goto out;
fail_file:
  snprintf(err_text, err_size, "placing %s: %s", path, gpupv_strerror(err));
out:
  index_done(&ix);
  return err;
}

/* 1 for a generations/ entry that belongs to neither kept generation. */
static int prunable(const char *name, const char *keep1, const char *keep2) {
  return name[0] != '.' && strncmp(name, keep1, HASH_HEX_LEN) != 0 &&
         !(*keep2 && strncmp(name, keep2, HASH_HEX_LEN) == 0);
}

/*
 * Removes generations other than current and previous, builds and staged blobs. A
 * generation's manifest is its completion marker (written after the folder was synced), so
 * the markers go first and are made durable: a prune cut short leaves folders without a
 * marker, which are rebuilt, never trusted.
 */
static void prune(const struct store *s) {
  uint8_t cur[HASH_LEN], prev[HASH_LEN];
  char keep1[HASH_HEX_LEN + 1] = "", keep2[HASH_HEX_LEN + 1] = "";
  if (store_current(s, cur))
    hash_to_hex(cur, keep1);
  if (store_previous(s, prev))
    hash_to_hex(prev, keep2);
  char dir[1300];
  snprintf(dir, sizeof dir, "%s/" GENERATIONS, s->base);
  char **names;
  size_t n;
  if (fs_list_dir(dir, &names, &n) == 0) {
    int marker_gone = 0, ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
      size_t len = strlen(names[i]);
      if (!prunable(names[i], keep1, keep2) || len < 9 ||
          strcmp(names[i] + len - 9, ".manifest") != 0)
        continue;
      char *path = path_join(dir, names[i]);
      ok = path && fs_unlink(path) == 0;
      marker_gone |= ok;
      free(path);
    }
    /* no folder goes before every marker of the pruned is durably gone */
    if (ok && (!marker_gone || fs_sync_dir(dir) == 0)) {
      for (size_t i = 0; i < n; i++) {
        if (!prunable(names[i], keep1, keep2))
          continue;
        char *path = path_join(dir, names[i]);
        if (path)
          fs_remove_tree(path);
        free(path);
      }
    }
    fs_names_free(names, n);
  }
  char staging[1300];
  snprintf(staging, sizeof staging, "%s/staging", s->base);
  fs_remove_tree(staging);
}

int store_install(const struct store *s, const struct manifest *m, const uint8_t *manifest_bytes,
                  size_t manifest_len, char *err_text, size_t err_size, char *warn_text,
                  size_t warn_size) {
  char gen[1400], build[1500], mpath[1500];
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(m->id, hex);
  store_generation_dir(s, m->id, gen, sizeof gen);
  snprintf(build, sizeof build, "%s/staging/build-%s", s->base, hex);
  snprintf(mpath, sizeof mpath, "%s.manifest", gen);
  snprintf(err_text, err_size, "installing generation %.12s", hex);
  int err = 0;
  if (!generation_complete(s, m->id)) {
    char gens[1300];
    snprintf(gens, sizeof gens, "%s/" GENERATIONS, s->base);
    if ((err = fs_mkdir_p(gens, 0755)) || (err = fs_remove_tree(build)) ||
        (err = fs_remove_tree(gen)))
      goto out;
    if ((err = build_generation(s, m, build, err_text, err_size)))
      goto out_quiet;
    /* Everything must be durable before it can become visible. */
    if ((err = fs_sync(build)) ||
        (err = fs_write_atomic(mpath, manifest_bytes, manifest_len, 0644)) ||
        (err = fs_rename(build, gen)) || (err = fs_sync_dir(gens)))
      goto out;
  }
  char note[512] = "", after[512] = "";
  int committed = 0;
  warn_text[0] = 0;
  err = store_platform_switch(s, m->id, &committed, note, sizeof note);
  if (err && !committed)
    goto out;
  /* committed: the install has succeeded; whatever fails from here on is a warning */
  if (err)
    snprintf(note + strlen(note), sizeof note - strlen(note), "%sfinishing the switch: %s",
             *note ? "; " : "", gpupv_strerror(err));
  store_platform_after_switch(s, after, sizeof after);
  snprintf(warn_text, warn_size, "%s%s%s", note, *note && *after ? "; " : "", after);
  if (*warn_text)
    log_warn("generation %.12s is installed, but: %s", hex, warn_text);
  prune(s);
  return 0;
out:
  snprintf(err_text + strlen(err_text), err_size - strlen(err_text), ": %s", gpupv_strerror(err));
out_quiet:
  fs_remove_tree(build);
  return err;
}

int store_rollback(const struct store *s, char *err_text, size_t err_size) {
  uint8_t prev[HASH_LEN];
  if (!store_previous(s, prev)) {
    snprintf(err_text, err_size, "no previous generation to roll back to");
    return UV_ENOENT;
  }
  if (!generation_complete(s, prev)) {
    snprintf(err_text, err_size, "the previous generation is not complete on disk");
    return UV_ENOENT;
  }
  char note[512] = "";
  int committed = 0;
  int err = store_platform_switch(s, prev, &committed, note, sizeof note);
  if (err && !committed) {
    snprintf(err_text, err_size, "switching generations: %s", gpupv_strerror(err));
    return err;
  }
  if (err || *note)
    log_warn("rolled back, but: %s%s%s", note, *note && err ? "; " : "",
             err ? gpupv_strerror(err) : "");
  return 0;
}

/* Bytes of the regular files under path (links and the like count nothing). */
static int add_bytes(void *ctx, const char *name);

struct walk {
  const char *dir;
  uint64_t bytes;
};

static uint64_t tree_bytes(const char *path) {
  struct fs_info info;
  if (fs_info_path(path, &info))
    return 0;
  if (info.type == FS_FILE)
    return info.size;
  if (info.type != FS_DIR)
    return 0;
  struct walk w = {path, 0};
  fs_each_entry(path, add_bytes, &w);
  return w.bytes;
}

static int add_bytes(void *ctx, const char *name) {
  struct walk *w = ctx;
  char *child = path_join(w->dir, name);
  if (child)
    w->bytes += tree_bytes(child);
  free(child);
  return 0;
}

/* Calls fn with each legacy folder's name and path. */
static int each_legacy(const struct store *s,
                       int (*fn)(void *ctx, const char *name, const char *path), void *ctx) {
  char **names;
  size_t n;
  int err = fs_list_dir(s->base, &names, &n);
  if (err)
    return err == UV_ENOENT ? 0 : err;
  for (size_t i = 0; !err && i < n; i++) {
    if (strncmp(names[i], "legacy-", 7) != 0)
      continue;
    char *path = path_join(s->base, names[i]);
    err = path ? fn(ctx, names[i], path) : UV_ENOMEM;
    free(path);
  }
  fs_names_free(names, n);
  return err;
}

static int legacy_entry(void *ctx, const char *name, const char *path) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "name", name) ||
      !cJSON_AddNumberToObject(o, "bytes", (double)tree_bytes(path))) {
    cJSON_Delete(o);
    return UV_ENOMEM;
  }
  cJSON_AddItemToArray(ctx, o);
  return 0;
}

cJSON *store_legacy_json(const struct store *s) {
  cJSON *list = cJSON_CreateArray();
  if (list && each_legacy(s, legacy_entry, list)) {
    cJSON_Delete(list);
    return NULL;
  }
  return list;
}

struct prune_report {
  char *out;
  size_t size;
};

static int legacy_remove(void *ctx, const char *name, const char *path) {
  struct prune_report *r = ctx;
  uint64_t bytes = tree_bytes(path);
  int err = fs_remove_tree(path);
  size_t used = strlen(r->out);
  snprintf(r->out + used, r->size - used, "%s %s (%llu bytes)\n",
           err ? "could not remove" : "removed", name, (unsigned long long)bytes);
  return err;
}

int store_prune_legacy(const struct store *s, char *report, size_t report_size) {
  struct prune_report r = {report, report_size};
  report[0] = 0;
  return each_legacy(s, legacy_remove, &r);
}

/* The guest's generations: planning, staging blobs, building and pruning (store.h). */
#include "guest-agent/store.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/path.h"
#include "guest-agent/objects.h"
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
  snprintf(s->objects, sizeof s->objects, "%s/objects", s->base);
  return 0;
}

/* 0 when path, inside .gpupv, is reached without passing a link (a missing part is fine);
 * GPUPV_ELINK, said in the log with the path, when it would be. */
static int internal_path(const struct store *s, const char *path) {
  int err = fs_no_links_below(s->top, path);
  if (err == UV_ENOENT)
    return 0;
  if (err == UV_ELOOP) {
    log_error("refusing %s: there is a symbolic link on the way, and nothing is written "
              "through one",
              path);
    return GPUPV_ELINK;
  }
  return err;
}

/* Checks the store's own folders before anything is written into them. */
static int internal_folders(const struct store *s) {
  static const char *const parts[] = {"", "/objects", "/generations", "/staging", "/records"};
  int err = 0;
  for (size_t i = 0; !err && i < sizeof parts / sizeof parts[0]; i++) {
    char path[1400];
    snprintf(path, sizeof path, "%s%s", s->base, parts[i]);
    err = internal_path(s, path);
  }
  return err;
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

/* 1 when generation id is built: its folder and its completion marker (the manifest, written
 * last and removed first) are there. A folder without a marker is rebuilt, never trusted. */
static int generation_complete(const struct store *s, const uint8_t id[HASH_LEN]) {
  char dir[1400], marker[1500];
  store_generation_dir(s, id, dir, sizeof dir);
  snprintf(marker, sizeof marker, "%s.manifest", dir);
  return fs_is_dir(dir) && fs_exists(marker);
}

int store_plan(const struct store *s, const struct manifest *m, const struct object_records *fresh,
               uint8_t **ret, size_t *ret_count, uint64_t *ret_bytes) {
  struct objects o;
  struct manifest_blob *blobs = NULL;
  size_t nblobs = 0, n = 0;
  uint64_t bytes = 0;
  uint8_t *want = NULL, *wanted = NULL;
  memset(&o, 0, sizeof o);
  int err = internal_folders(s);
  if (err)
    return err;
  if ((err = store_platform_recover(s)))
    log_warn("finishing an interrupted switch: %s", gpupv_strerror(err));
  if ((err = objects_open(&o, s->base, fresh)))
    goto out;
  if ((err = manifest_blobs(m, &blobs, &nblobs)) || (err = wanted_blobs(m, blobs, nblobs, &wanted)))
    goto out;
  err = UV_ENOMEM;
  if (!(want = malloc(nblobs * HASH_LEN + 1)))
    goto out;
  err = 0;
  /* Even a generation that is built is planned like any other: its objects are checked, and
   * the install puts back whatever file is not its object any more. */
  for (size_t i = 0; i < nblobs; i++) {
    if (blobs[i].size == 0 || !wanted[i] || objects_have(&o, blobs[i].sha256, blobs[i].size))
      continue;
    memcpy(want + n * HASH_LEN, blobs[i].sha256, HASH_LEN);
    n++;
    bytes += blobs[i].size;
  }
  *ret = want;
  want = NULL;
  *ret_count = n;
  *ret_bytes = bytes;
out:
  free(want);
  free(wanted);
  free(blobs);
  objects_close(&o);
  return err;
}

struct store_blob {
  int fd;
  uint8_t expect[HASH_LEN];
  char part[1500], final[1500];
};

int store_blob_open(const struct store *s, const uint8_t sha256[HASH_LEN],
                    struct store_blob **ret) {
  int err;
  if ((err = internal_path(s, s->objects)) || (err = fs_mkdir_p(s->objects, 0755)) ||
      (err = internal_path(s, s->objects)))
    return err;
  struct store_blob *b = calloc(1, sizeof *b);
  if (!b)
    return UV_ENOMEM;
  memcpy(b->expect, sha256, HASH_LEN);
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(sha256, hex);
  snprintf(b->part, sizeof b->part, "%s/%s.part", s->objects, hex);
  snprintf(b->final, sizeof b->final, "%s/%s", s->objects, hex);
  fs_unlink(b->part); /* left by an earlier try: it is made afresh, read-only */
  if ((err = fs_open_new(b->part, OBJECT_MODE, 1, &b->fd))) {
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

int store_blob_finish(struct store_blob *b, const uint8_t got[HASH_LEN],
                      struct object_record *ret_record) {
  /* Start writeback now, without waiting, so the sync before the switch has less to do. */
  fs_start_writeback(b->fd);
  int err = fs_close(b->fd);
  b->fd = -1;
  if (!err && memcmp(got, b->expect, HASH_LEN) != 0)
    err = GPUPV_EHASH;
  /* Durability comes from one sync before the records are saved, not an fsync per blob: an
   * object without a saved record is hashed again before it is used. */
  if (!err)
    err = fs_rename(b->part, b->final);
  struct fs_info info;
  if (!err && !(err = fs_info_path(b->final, &info)))
    records_from_info(&info, b->expect, 0, ret_record);
  if (err)
    fs_unlink(b->part);
  free(b);
  return err;
}

/* Creates the parent folders of rel under dir that are not there yet. */
static int make_parents(const char *dir, const char *rel) {
  char path[2600];
  int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
  if (n < 0 || (size_t)n >= sizeof path)
    return GPUPV_ELIMIT;
  char *slash = strrchr(path, '/');
  size_t base = strlen(dir);
  int err;
  *slash = 0;
  int there = fs_is_dir(path); /* made for an earlier file, or a built generation's */
  *slash = '/';
  if (there)
    return 0;
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

int store_place(const char *src, const char *dst, int mode) {
  if (fs_hard_link(src, dst) == 0)
    return 0;
  return fs_copy_file(src, dst, mode);
}

static int file_exec(const struct manifest_file *f) {
  return (f->mode & 0111) != 0;
}

/* A visible file's mode: read-only, as WSL's fmask=222 shows them. */
static int visible_mode(const struct manifest_file *f) {
  return file_exec(f) ? OBJECT_MODE_EXEC : OBJECT_MODE;
}

/* 1 when what is at path is f: its object (for an empty file, an empty file). */
static int file_in_place(struct objects *o, const struct manifest_file *f, const char *path) {
  struct fs_info have;
  if (fs_info_path(path, &have) || have.type != FS_FILE)
    return 0;
  if (f->size == 0)
    return have.size == 0;
  /* the object was just checked, so its record says its inode */
  const struct object_record *r = records_get(&o->rec, f->sha256, file_exec(f));
  return r && have.id == r->id;
}

/* Puts file f at path, or puts it back where something else is there: a new link beside it,
 * renamed over it. */
static int place_file(const struct objects *o, const struct manifest_file *f, const char *path) {
  char obj[1400], tmp[2700];
  objects_path(o, f->sha256, file_exec(f), obj, sizeof obj);
  if (!fs_exists(path))
    return f->size ? store_place(obj, path, visible_mode(f)) : create_empty(path, visible_mode(f));
  log_warn("%s is not what was installed there; putting it back", path);
  snprintf(tmp, sizeof tmp, "%s.gpupv-new", path);
  fs_remove_tree(tmp);
  int err = f->size ? store_place(obj, tmp, visible_mode(f)) : create_empty(tmp, visible_mode(f));
  if (!err && fs_is_dir(path))
    err = fs_remove_tree(path);
  if (!err)
    err = fs_rename(tmp, path);
  if (err)
    fs_remove_tree(tmp);
  return err;
}

/* Makes every folder under path read-only, as the files are. */
static int seal_folders(const char *path) {
  char **names;
  size_t n;
  int err = fs_list_dir(path, &names, &n);
  for (size_t i = 0; !err && i < n; i++) {
    char *child = path_join(path, names[i]);
    err = child ? 0 : UV_ENOMEM;
    if (child && fs_is_dir(child))
      err = seal_folders(child);
    free(child);
  }
  fs_names_free(names, n);
  return err ? err : fs_chmod(path, 0555);
}

/*
 * Fills dir with generation m: folders, then each file as a hard link to its object. dir is
 * fresh, or a built generation whose files are put back where they are not their objects.
 * Every object is checked before anything links to it; the links' own ctime changes are
 * taken into the records (objects_hold, objects_settle). *ret_placed counts the files placed.
 */
static int place_generation(const struct store *s, struct objects *o, const struct manifest *m,
                            const char *dir, size_t *ret_placed, char *err_text, size_t err_size) {
  char path[2600];
  int err = 0;
  *ret_placed = 0;
  for (size_t i = 0; i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
    if (!store_platform_wants(m, f) || f->size == 0)
      continue;
    if ((err = objects_provide(o, f->sha256, file_exec(f), f->size))) {
      snprintf(err_text, err_size, "content of %s was never received", f->path);
      return err;
    }
  }
  snprintf(path, sizeof path, "%s/drivers", dir);
  if ((err = internal_path(s, path)) || (err = fs_mkdir_p(path, 0755)))
    goto fail;
  snprintf(path, sizeof path, "%s/lib", dir);
  if ((err = internal_path(s, path)) || (err = fs_mkdir_p(path, 0755)))
    goto fail;
  for (size_t i = 0; i < m->npackages; i++) {
    snprintf(path, sizeof path, "%s/drivers/%s", dir, m->packages[i].name);
    if ((err = internal_path(s, path)))
      goto fail;
    if ((err = fs_mkdir(path, 0755)) == UV_EEXIST && fs_is_dir(path))
      err = 0; /* a built generation being put back */
    if (err)
      goto fail;
  }
  /* files are sorted by path: a folder checked for links (and made) serves the files after */
  char parent[2600] = "";
  int held = 0;
  for (size_t i = 0; !err && i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
    if (!store_platform_wants(m, f))
      continue;
    char *rel = manifest_file_dest(m, f);
    if (!rel) {
      err = UV_ENOMEM;
      break;
    }
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    size_t parent_len = (size_t)(slash - path);
    if (strlen(parent) != parent_len || strncmp(parent, path, parent_len) != 0) {
      /* no link on the way, before a folder is made or a file placed */
      *slash = 0;
      err = internal_path(s, path);
      *slash = '/';
      if (!err)
        err = make_parents(dir, rel);
      if (!err)
        snprintf(parent, sizeof parent, "%.*s", (int)parent_len, path);
    }
    free(rel);
    if (err || file_in_place(o, f, path))
      continue;
    if (!held) {
      objects_hold(o); /* the links move the objects' ctime: their records follow */
      held = 1;
    }
    err = place_file(o, f, path);
    (*ret_placed)++;
  }
  if (held)
    objects_settle(o);
  if (err)
    goto fail;
  return 0;
fail:
  snprintf(err_text, err_size, "placing %s: %s", path, gpupv_strerror(err));
  return err;
}

/* 1 for a generations/ entry that belongs to neither kept generation. */
static int prunable(const char *name, const char *keep1, const char *keep2) {
  return name[0] != '.' && strncmp(name, keep1, HASH_HEX_LEN) != 0 &&
         !(*keep2 && strncmp(name, keep2, HASH_HEX_LEN) == 0);
}

/* Adds the objects the files of generation id link to; a generation not readable adds none. */
/* Adds the objects the files of m link to. */
static int keep_files(struct object_records *keep, const struct manifest *m) {
  int err = 0;
  for (size_t i = 0; m && !err && i < m->nfiles; i++) {
    struct object_record r;
    memset(&r, 0, sizeof r);
    memcpy(r.sha256, m->files[i].sha256, HASH_LEN);
    err = records_put(keep, &r);
  }
  return err;
}

/* The same for generation id, read from its marker; one that cannot be read adds none. */
static int keep_generation(const struct store *s, struct object_records *keep,
                           const uint8_t id[HASH_LEN]) {
  struct manifest *m = store_generation_manifest(s, id);
  int err = keep_files(keep, m);
  manifest_free(m);
  return err;
}

static int kept(void *ctx, const uint8_t sha256[HASH_LEN]) {
  return records_get(ctx, sha256, 0) != NULL;
}

/* Removes the objects neither kept generation links to; current is m, just installed. */
static void collect_objects(const struct store *s, struct objects *o, const struct manifest *m,
                            const uint8_t *prev) {
  struct object_records keep;
  records_init(&keep);
  int err = keep_files(&keep, m);
  if (!err && prev)
    err = keep_generation(s, &keep, prev);
  /* an object too many is harmless; one too few would be fetched again */
  if (!err && (err = objects_collect(o, kept, &keep)))
    log_warn("removing unused objects: %s", gpupv_strerror(err));
  records_done(&keep);
}

/*
 * Removes generations other than current and previous, builds, and the objects no kept
 * generation uses. A generation's manifest is its completion marker (written after the
 * folder was synced), so the markers go first and are made durable: a prune cut short leaves
 * folders without a marker, which are rebuilt, never trusted.
 */
static void prune(const struct store *s, struct objects *o, const struct manifest *m) {
  uint8_t cur[HASH_LEN], prev[HASH_LEN];
  char keep1[HASH_HEX_LEN + 1] = "", keep2[HASH_HEX_LEN + 1] = "";
  int has_cur = store_current(s, cur), has_prev = store_previous(s, prev);
  if (has_cur)
    hash_to_hex(cur, keep1);
  if (has_prev)
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
  if (has_cur && memcmp(cur, m->id, HASH_LEN) == 0)
    collect_objects(s, o, m, has_prev ? prev : NULL);
}

/* Builds generation m in build and moves it into place, marked complete last. */
static int build_generation(const struct store *s, struct objects *o, const struct manifest *m,
                            const char *build, const uint8_t *manifest_bytes, size_t manifest_len,
                            char *err_text, size_t err_size) {
  char gen[1400], gens[1300], mpath[1500];
  store_generation_dir(s, m->id, gen, sizeof gen);
  snprintf(gens, sizeof gens, "%s/" GENERATIONS, s->base);
  snprintf(mpath, sizeof mpath, "%s.manifest", gen);
  int err;
  if ((err = fs_mkdir_p(gens, 0755)) || (err = fs_remove_tree(build)) ||
      (err = fs_remove_tree(gen)))
    return err;
  size_t placed;
  if ((err = place_generation(s, o, m, build, &placed, err_text, err_size)))
    return err;
  /* Everything must be durable before it is trusted (the records) and visible (the marker). */
  if ((err = seal_folders(build)) || (err = fs_sync(build)) || (err = objects_save(o)) ||
      (err = fs_write_atomic(mpath, manifest_bytes, manifest_len, 0444)) ||
      (err = fs_rename(build, gen)) || (err = fs_sync_dir(gens)))
    return err;
  return 0;
}

int store_install(const struct store *s, const struct manifest *m,
                  const struct object_records *fresh, const uint8_t *manifest_bytes,
                  size_t manifest_len, char *err_text, size_t err_size, char *warn_text,
                  size_t warn_size) {
  char gen[1400], build[1500];
  char hex[HASH_HEX_LEN + 1];
  struct objects o;
  hash_to_hex(m->id, hex);
  store_generation_dir(s, m->id, gen, sizeof gen);
  snprintf(build, sizeof build, "%s/staging/build-%s", s->base, hex);
  snprintf(err_text, err_size, "installing generation %.12s", hex);
  warn_text[0] = 0;
  memset(&o, 0, sizeof o);
  int err = internal_folders(s);
  if (err || (err = objects_open(&o, s->base, fresh)))
    goto out;
  if (generation_complete(s, m->id)) {
    /* built before: put back any file that is not its checked object any more */
    size_t placed;
    if ((err = place_generation(s, &o, m, gen, &placed, err_text, err_size)))
      goto out_quiet;
    if (placed && ((err = fs_sync(gen)) || (err = objects_save(&o))))
      goto out;
  } else if ((err = build_generation(s, &o, m, build, manifest_bytes, manifest_len, err_text,
                                     err_size))) {
    if (strncmp(err_text, "installing", 10) != 0)
      goto out_quiet; /* err_text says what failed */
    goto out;
  }
  char note[512] = "", after[512] = "";
  uint8_t cur[HASH_LEN];
  if (store_current(s, cur) && memcmp(cur, m->id, HASH_LEN) == 0) {
    /* current already (a push that checked the guest's copy): nothing to switch or prune */
    store_platform_after_switch(s, 0, after, sizeof after);
  } else {
    int committed = 0;
    objects_hold(&o); /* the switch and the prune link and unlink objects */
    err = store_platform_switch(s, m->id, &committed, note, sizeof note);
    if (err && !committed) {
      objects_settle(&o);
      goto out;
    }
    /* committed: the install has succeeded; whatever fails from here on is a warning */
    if (err)
      snprintf(note + strlen(note), sizeof note - strlen(note), "%sfinishing the switch: %s",
               *note ? "; " : "", gpupv_strerror(err));
    store_platform_after_switch(s, 1, after, sizeof after);
    prune(s, &o, m);
    objects_settle(&o);
  }
  if (o.dirty && (err = objects_save(&o)))
    snprintf(after + strlen(after), sizeof after - strlen(after), "%ssaving the object records: %s",
             *after ? "; " : "", gpupv_strerror(err));
  snprintf(warn_text, warn_size, "%s%s%s", note, *note && *after ? "; " : "", after);
  if (*warn_text)
    log_warn("generation %.12s is installed, but: %s", hex, warn_text);
  objects_close(&o);
  return 0;
out:
  snprintf(err_text + strlen(err_text), err_size - strlen(err_text), ": %s", gpupv_strerror(err));
out_quiet:
  fs_remove_tree(build);
  objects_close(&o);
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
  /* the system files of the generation rolled back to (Windows), what they replaced put back */
  if (!err && committed) {
    char after[512] = "";
    err = store_platform_after_switch(s, 1, after, sizeof after);
    if (*after)
      snprintf(note + strlen(note), sizeof note - strlen(note), "%s%s", *note ? "; " : "", after);
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

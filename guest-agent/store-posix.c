#include "guest-agent/store.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define GENERATIONS "generations"
#define LD_CONF_TEXT "/usr/lib/wsl/lib\n"

extern char **environ;

static int sys_err(void) {
  return uv_translate_sys_error(errno);
}

int store_init(struct store *s, const char *root) {
  memset(s, 0, sizeof *s);
  if (strlen(root) >= sizeof s->root - 64)
    return GPUPV_ELIMIT;
  snprintf(s->root, sizeof s->root, "%s", root);
  size_t n = strlen(s->root);
  while (n > 1 && s->root[n - 1] == '/')
    s->root[--n] = 0;
  const char *sep = strcmp(s->root, "/") == 0 ? "" : s->root;
  snprintf(s->wsl, sizeof s->wsl, "%s/usr/lib/wsl", sep);
  snprintf(s->base, sizeof s->base, "%s/.gpupv", s->wsl);
  snprintf(s->objects, sizeof s->objects, "%s/staging/objects", s->base);
  s->run_ldconfig = strcmp(s->root, "/") == 0;
  return 0;
}

/* Reads a "generations/<hex>" link. */
static int read_generation_link(const struct store *s, const char *name, uint8_t ret[HASH_LEN]) {
  char path[1300], target[256];
  snprintf(path, sizeof path, "%s/%s", s->base, name);
  if (fs_readlink(path, target, sizeof target))
    return 0;
  const char *slash = strrchr(target, '/');
  return slash && hash_from_hex(slash + 1, ret) == 0 ? 1 : 0;
}

int store_current(const struct store *s, uint8_t ret[HASH_LEN]) {
  return read_generation_link(s, "current", ret);
}

int store_previous(const struct store *s, uint8_t ret[HASH_LEN]) {
  return read_generation_link(s, "previous", ret);
}

static void generation_dir(const struct store *s, const uint8_t id[HASH_LEN], char *out,
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

/* Adds the files of an installed generation; a generation that cannot be read adds nothing. */
static int index_add_generation(const struct store *s, struct index *ix,
                                const uint8_t id[HASH_LEN]) {
  char dir[1400], mpath[1500];
  generation_dir(s, id, dir, sizeof dir);
  snprintf(mpath, sizeof mpath, "%s.manifest", dir);
  struct buf text;
  buf_init(&text);
  struct manifest *m = NULL;
  int err = fs_read_file(mpath, MANIFEST_DEFAULT_LIMITS.max_bytes, &text);
  if (err || manifest_decode(text.data, text.len, &MANIFEST_DEFAULT_LIMITS, &m, NULL)) {
    buf_done(&text);
    return 0;
  }
  struct index_entry *grown = realloc(ix->e, (ix->n + m->nfiles + 1) * sizeof *grown);
  err = grown ? 0 : UV_ENOMEM;
  if (grown)
    ix->e = grown;
  for (size_t i = 0; !err && i < m->nfiles; i++) {
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
  buf_done(&text);
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

int store_plan(const struct store *s, const struct manifest *m, uint8_t **ret, size_t *ret_count,
               uint64_t *ret_bytes) {
  struct index ix;
  struct manifest_blob *blobs = NULL;
  size_t nblobs = 0, n = 0;
  uint64_t bytes = 0;
  uint8_t *want = NULL;
  char dir[1400];
  int err = index_load(s, &ix);
  if (err)
    return err;
  if ((err = manifest_blobs(m, &blobs, &nblobs)))
    goto out;
  err = UV_ENOMEM;
  if (!(want = malloc(nblobs * HASH_LEN + 1)))
    goto out;
  err = 0;
  generation_dir(s, m->id, dir, sizeof dir);
  if (fs_is_dir(dir))
    goto done; /* already built, e.g. the previous generation coming back */
  for (size_t i = 0; i < nblobs; i++) {
    char obj[1500];
    object_path(s, blobs[i].sha256, "", obj, sizeof obj);
    if (blobs[i].size == 0 || index_find(&ix, blobs[i].sha256) || fs_exists(obj))
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
  b->fd = open(b->part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (b->fd < 0) {
    err = sys_err();
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
  close(b->fd);
  unlink(b->part);
  free(b);
}

int store_blob_finish(struct store_blob *b, const uint8_t got[HASH_LEN]) {
  /* Start writeback now, without waiting, so the syncfs before the switch has less to do. */
  sync_file_range(b->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  int err = close(b->fd) == 0 ? 0 : sys_err();
  b->fd = -1;
  if (!err && memcmp(got, b->expect, HASH_LEN) != 0)
    err = GPUPV_EHASH;
  /* Durability comes from one syncfs before the switch, not an fsync per blob. */
  if (!err && rename(b->part, b->final) != 0)
    err = sys_err();
  if (err)
    unlink(b->part);
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
  for (char *p = path + base + 1; p < slash; p++) {
    if (*p != '/')
      continue;
    *p = 0;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
      return sys_err();
    *p = '/';
  }
  *slash = 0;
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return sys_err();
  return fs_is_dir(path) ? 0 : GPUPV_EPATH;
}

/*
 * Places content at dst with mode: a hard link where the inode's mode can be shared. Only a
 * staged object may have its mode changed (nothing else links to it yet); a file of an
 * installed generation is never touched, so it is copied when the modes differ.
 */
static int place(const char *src, const char *dst, int mode, int src_is_staged) {
  struct stat st;
  if (lstat(src, &st) != 0)
    return sys_err();
  if (!S_ISREG(st.st_mode))
    return GPUPV_EPATH;
  if (src_is_staged && (int)(st.st_mode & 07777) != mode && st.st_nlink == 1 &&
      chmod(src, (mode_t)mode) == 0)
    st.st_mode = (st.st_mode & ~07777u) | (mode_t)mode;
  if ((int)(st.st_mode & 07777) == mode && link(src, dst) == 0)
    return 0;
  return fs_copy_file(src, dst, mode);
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
    if (mkdir(path, 0755) != 0) {
      err = sys_err();
      goto out;
    }
  }
  for (size_t i = 0; i < m->nfiles; i++) {
    const struct manifest_file *f = &m->files[i];
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
      int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)f->mode);
      if (fd < 0 || fchmod(fd, (mode_t)f->mode) != 0)
        err = sys_err();
      if (fd >= 0)
        close(fd);
      if (err)
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
    if ((err = place(src, path, (int)f->mode, staged)))
      goto fail_file;
  }
  goto out;
fail_file:
  snprintf(err_text, err_size, "placing %s: %s", path, gpupv_strerror(err));
out:
  index_done(&ix);
  return err;
}

/* Makes ROOT/usr/lib/wsl/<name> the link into the current generation, moving a real folder
 * that an earlier manual install left there out of the way. */
static int ensure_visible_link(const struct store *s, const char *name) {
  char path[1300], target[256], want[64];
  snprintf(path, sizeof path, "%s/%s", s->wsl, name);
  snprintf(want, sizeof want, ".gpupv/current/%s", name);
  if (fs_readlink(path, target, sizeof target) == 0 && strcmp(target, want) == 0)
    return 0;
  if (fs_exists(path)) {
    char aside[1400];
    snprintf(aside, sizeof aside, "%s/legacy-%s-%ld", s->base, name, (long)time(NULL));
    log_warn("moving the existing %s aside to %s", path, aside);
    if (rename(path, aside) != 0)
      return sys_err();
  }
  return fs_symlink_replace(want, path);
}

static int write_ld_conf(const struct store *s) {
  char dir[1100], path[1200];
  const char *root = strcmp(s->root, "/") == 0 ? "" : s->root;
  snprintf(dir, sizeof dir, "%s/etc/ld.so.conf.d", root);
  snprintf(path, sizeof path, "%s/ld.wsl.conf", dir);
  struct buf old;
  buf_init(&old);
  int same = fs_read_file(path, 4096, &old) == 0 && old.len == strlen(LD_CONF_TEXT) &&
             memcmp(old.data, LD_CONF_TEXT, old.len) == 0;
  buf_done(&old);
  int err = 0;
  if (!same && !(err = fs_mkdir_p(dir, 0755)))
    err = fs_write_atomic(path, LD_CONF_TEXT, strlen(LD_CONF_TEXT), 0644);
  if (err || !s->run_ldconfig)
    return err;
  pid_t pid;
  char *argv[] = {"ldconfig", NULL};
  if (posix_spawnp(&pid, "ldconfig", NULL, NULL, argv, environ) != 0) {
    log_warn("cannot run ldconfig: %s", strerror(errno));
    return 0;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    log_warn("ldconfig failed (status %d)", status);
  return 0;
}

/* Removes generations other than current and previous, builds and staged blobs. */
static void prune(const struct store *s) {
  uint8_t cur[HASH_LEN], prev[HASH_LEN];
  char keep1[HASH_HEX_LEN + 1] = "", keep2[HASH_HEX_LEN + 1] = "";
  if (store_current(s, cur))
    hash_to_hex(cur, keep1);
  if (store_previous(s, prev))
    hash_to_hex(prev, keep2);
  char dir[1300];
  snprintf(dir, sizeof dir, "%s/" GENERATIONS, s->base);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.' || strncmp(de->d_name, keep1, HASH_HEX_LEN) == 0 ||
        (*keep2 && strncmp(de->d_name, keep2, HASH_HEX_LEN) == 0))
      continue;
    char *path = path_join(dir, de->d_name);
    if (path)
      fs_remove_tree(path);
    free(path);
  }
  if (d)
    closedir(d);
  char staging[1300];
  snprintf(staging, sizeof staging, "%s/staging", s->base);
  fs_remove_tree(staging);
}

static int switch_to(const struct store *s, const uint8_t id[HASH_LEN]) {
  char hex[HASH_HEX_LEN + 1], target[128], link_path[1300];
  uint8_t cur[HASH_LEN];
  hash_to_hex(id, hex);
  snprintf(target, sizeof target, GENERATIONS "/%s", hex);
  int err = 0;
  if (store_current(s, cur) && memcmp(cur, id, HASH_LEN) != 0) {
    char cur_hex[HASH_HEX_LEN + 1], cur_target[128];
    hash_to_hex(cur, cur_hex);
    snprintf(cur_target, sizeof cur_target, GENERATIONS "/%s", cur_hex);
    snprintf(link_path, sizeof link_path, "%s/previous", s->base);
    if ((err = fs_symlink_replace(cur_target, link_path)))
      return err;
  }
  snprintf(link_path, sizeof link_path, "%s/current", s->base);
  /* The one atomic step: both drivers/ and lib/ follow this link. */
  if ((err = fs_symlink_replace(target, link_path)) || (err = fs_sync_dir(s->base)))
    return err;
  if ((err = ensure_visible_link(s, "drivers")) || (err = ensure_visible_link(s, "lib")))
    return err;
  return fs_sync_dir(s->wsl);
}

int store_install(const struct store *s, const struct manifest *m, const uint8_t *manifest_bytes,
                  size_t manifest_len, char *err_text, size_t err_size) {
  char gen[1400], build[1500], mpath[1500];
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(m->id, hex);
  generation_dir(s, m->id, gen, sizeof gen);
  snprintf(build, sizeof build, "%s/staging/build-%s", s->base, hex);
  snprintf(mpath, sizeof mpath, "%s.manifest", gen);
  snprintf(err_text, err_size, "installing generation %.12s", hex);
  int err = 0;
  if (!fs_is_dir(gen) || !fs_exists(mpath)) {
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
        rename(build, gen) != 0 || (err = fs_sync_dir(gens))) {
      err = err ? err : sys_err();
      goto out;
    }
  }
  if ((err = switch_to(s, m->id)))
    goto out;
  if ((err = write_ld_conf(s)))
    goto out;
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
  char dir[1400];
  if (!store_previous(s, prev)) {
    snprintf(err_text, err_size, "no previous generation to roll back to");
    return UV_ENOENT;
  }
  generation_dir(s, prev, dir, sizeof dir);
  if (!fs_is_dir(dir)) {
    snprintf(err_text, err_size, "the previous generation's folder is missing");
    return UV_ENOENT;
  }
  int err = switch_to(s, prev);
  if (err)
    snprintf(err_text, err_size, "switching generations: %s", gpupv_strerror(err));
  return err;
}

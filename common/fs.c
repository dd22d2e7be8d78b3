/* File helpers built on the platform primitives of fs-posix.c and fs-win.c. */
#include "common/fs.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define COPY_CHUNK (1u << 20)

static int is_separator(char c) {
  return c == '/' || c == '\\';
}

/* path is a folder, or a link that leads to one (uv_fs_stat follows links). */
static int leads_to_dir(const char *path) {
  uv_fs_t req;
  int ok = uv_fs_stat(NULL, &req, path, NULL) == 0 && (req.statbuf.st_mode & S_IFMT) == S_IFDIR;
  uv_fs_req_cleanup(&req);
  return ok;
}

int fs_mkdir_p(const char *path, int mode) {
  if (leads_to_dir(path))
    return 0; /* the common case: nothing to make */
  char *p = strdup(path);
  if (!p)
    return UV_ENOMEM;
  int err = 0;
  for (char *s = p + 1;; s++) {
    if (!is_separator(*s) && *s != 0)
      continue;
    char c = *s;
    *s = 0;
    /* "C:" is a drive, not a folder to make */
    int drive = s - p == 2 && p[1] == ':';
    if (!drive && (err = fs_mkdir(p, mode)) == UV_EEXIST)
      err = 0;
    *s = c;
    if (err || !c)
      break;
  }
  if (!err && !leads_to_dir(path))
    err = UV_ENOTDIR;
  free(p);
  return err;
}

int fs_write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    size_t n;
    int err = fs_write(fd, p, len, &n);
    if (err)
      return err;
    p += n;
    len -= n;
  }
  return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, int mode) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 8);
  if (!tmp)
    return UV_ENOMEM;
  snprintf(tmp, plen + 8, "%s.tmp", path);
  int fd;
  int err = fs_open_new(tmp, mode, 0, &fd);
  if (err)
    goto out;
  err = fs_write_all(fd, data, len);
  if (!err)
    err = fs_fsync(fd);
  int close_err = fs_close(fd);
  if (!err)
    err = close_err;
  if (!err)
    err = fs_rename(tmp, path);
  if (err) {
    fs_unlink(tmp);
    goto out;
  }
  /* the rename itself must survive a power cut: sync the folder that holds it */
  char *slash = strrchr(tmp, '/');
  if (slash && slash != tmp) {
    *slash = 0;
    err = fs_sync_dir(tmp);
  }
out:
  free(tmp);
  return err;
}

int fs_read_file(const char *path, size_t max, struct buf *ret) {
  int fd;
  int err = fs_open_read(path, &fd);
  if (err)
    return err;
  size_t total = 0;
  for (;;) {
    if ((err = buf_reserve(ret, 65536 + 1)))
      break;
    int64_t n = fs_read(fd, ret->data + ret->len, 65536);
    if (n < 0) {
      err = (int)n;
      break;
    }
    if (n == 0)
      break;
    total += (size_t)n;
    if (total > max) {
      err = GPUPV_ELIMIT;
      break;
    }
    ret->len += (size_t)n;
    ret->data[ret->len] = 0;
  }
  fs_close(fd);
  return err;
}

int fs_copy_file(const char *src, const char *dst, int mode) {
  int in, out = -1;
  int err = fs_open_read(src, &in);
  if (err)
    return err;
  char *chunk = malloc(COPY_CHUNK);
  if (!chunk) {
    err = UV_ENOMEM;
    goto out;
  }
  if ((err = fs_open_new(dst, mode, 1, &out)))
    goto out;
  for (;;) {
    int64_t n = fs_read(in, chunk, COPY_CHUNK);
    if (n < 0)
      err = (int)n;
    if (n <= 0 || (err = fs_write_all(out, chunk, (size_t)n)))
      break;
  }
out:
  free(chunk);
  if (out >= 0) {
    if (!err)
      err = fs_fchmod(out, mode); /* the umask may have taken bits away */
    int close_err = fs_close(out);
    if (!err)
      err = close_err;
  }
  fs_close(in);
  return err;
}

struct name_list {
  char **names;
  size_t n;
};

static int add_name(void *ctx, const char *name) {
  struct name_list *l = ctx;
  char **grown = realloc(l->names, (l->n + 1) * sizeof *grown);
  if (!grown)
    return UV_ENOMEM;
  l->names = grown;
  if (!(grown[l->n] = strdup(name)))
    return UV_ENOMEM;
  l->n++;
  return 0;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_dir(const char *path, char ***ret, size_t *ret_n) {
  struct name_list l = {NULL, 0};
  int err = fs_each_entry(path, add_name, &l);
  if (err) {
    fs_names_free(l.names, l.n);
    return err;
  }
  if (l.n)
    qsort(l.names, l.n, sizeof *l.names, cmp_name);
  *ret = l.names;
  *ret_n = l.n;
  return 0;
}

void fs_names_free(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

int fs_is_dir(const char *path) {
  struct fs_info info;
  return fs_info_path(path, &info) == 0 && info.type == FS_DIR;
}

int fs_exists(const char *path) {
  struct fs_info info;
  return fs_info_path(path, &info) == 0;
}

#include "common/fs.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

static int sys_err(void) {
  return uv_translate_sys_error(errno);
}

int fs_mkdir_p(const char *path, int mode) {
  char *p = strdup(path);
  if (!p)
    return UV_ENOMEM;
  int err = 0;
  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s != 0)
      continue;
    char c = *s;
    *s = 0;
    if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
      err = sys_err();
      break;
    }
    *s = c;
    if (!c)
      break;
  }
  if (!err && !fs_is_dir(path))
    err = UV_ENOTDIR;
  free(p);
  return err;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
  return rc != 0 && errno != ENOENT ? -1 : 0;
}

int fs_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : sys_err();
  if (!S_ISDIR(st.st_mode))
    return unlink(path) == 0 ? 0 : sys_err();
  return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : sys_err();
}

int fs_write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return sys_err();
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, int mode) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 8);
  if (!tmp)
    return UV_ENOMEM;
  snprintf(tmp, plen + 8, "%s.tmp", path);
  int err = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    err = sys_err();
    goto out;
  }
  err = fs_write_all(fd, data, len);
  if (!err && fsync(fd) != 0)
    err = sys_err();
  if (close(fd) != 0 && !err)
    err = sys_err();
  if (!err && rename(tmp, path) != 0)
    err = sys_err();
  if (err)
    unlink(tmp);
out:
  free(tmp);
  return err;
}

int fs_read_file(const char *path, size_t max, struct buf *ret) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sys_err();
  int err = 0;
  size_t total = 0;
  for (;;) {
    if ((err = buf_reserve(ret, 65536 + 1)))
      break;
    ssize_t n = read(fd, ret->data + ret->len, 65536);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      err = sys_err();
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
  close(fd);
  return err;
}

int fs_copy_file(const char *src, const char *dst, int mode) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return sys_err();
  int err = 0;
  char *chunk = NULL;
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (out < 0) {
    err = sys_err();
    goto out;
  }
  chunk = malloc(1 << 20);
  if (!chunk) {
    err = UV_ENOMEM;
    goto out;
  }
  for (;;) {
    ssize_t n = read(in, chunk, 1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      err = sys_err();
      break;
    }
    if (n == 0 || (err = fs_write_all(out, chunk, (size_t)n)))
      break;
  }
  if (fchmod(out, (mode_t)mode) != 0 && !err)
    err = sys_err();
out:
  free(chunk);
  if (out >= 0 && close(out) != 0 && !err)
    err = sys_err();
  close(in);
  return err;
}

int fs_is_dir(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

int fs_sync(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sys_err();
  int err = syncfs(fd) == 0 ? 0 : sys_err();
  close(fd);
  return err;
}

int fs_sync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sys_err();
  int err = fsync(fd) == 0 ? 0 : sys_err();
  close(fd);
  return err;
}

int fs_symlink_replace(const char *target, const char *link_path) {
  size_t n = strlen(link_path) + 16;
  char *tmp = malloc(n);
  if (!tmp)
    return UV_ENOMEM;
  snprintf(tmp, n, "%s.new", link_path);
  unlink(tmp);
  int err = 0;
  if (symlink(target, tmp) != 0 || rename(tmp, link_path) != 0) {
    err = sys_err();
    unlink(tmp);
  }
  free(tmp);
  return err;
}

int fs_readlink(const char *path, char *ret, size_t size) {
  ssize_t n = readlink(path, ret, size - 1);
  if (n < 0)
    return sys_err();
  if ((size_t)n >= size - 1)
    return GPUPV_ELIMIT;
  ret[n] = 0;
  return 0;
}

/* File system primitives for POSIX (Linux). */
#include "common/fs.h"

#include "common/err.h"
#include "common/fs-fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif
#include <uv.h>

static int sys_err(void) {
  return uv_translate_sys_error(errno);
}

static void info_from_stat(const struct stat *st, struct fs_info *ret) {
  ret->type = S_ISREG(st->st_mode)   ? FS_FILE
              : S_ISDIR(st->st_mode) ? FS_DIR
              : S_ISLNK(st->st_mode) ? FS_LINK
                                     : FS_OTHER;
  ret->size = (uint64_t)st->st_size;
  ret->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  ret->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  ret->id = (uint64_t)st->st_ino;
  ret->mode = st->st_mode & 07777;
  ret->links = (uint32_t)st->st_nlink;
}

int fs_info_path(const char *path, struct fs_info *ret) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return sys_err();
  info_from_stat(&st, ret);
  return 0;
}

int fs_info_fd(int fd, struct fs_info *ret) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return sys_err();
  info_from_stat(&st, ret);
  return 0;
}

int fs_open_read(const char *path, int *ret_fd) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return sys_err();
  *ret_fd = fd;
  return 0;
}

int fs_open_new(const char *path, int mode, int exclusive, int *ret_fd) {
  int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  int fd = open(path, flags, (mode_t)mode);
  if (fd < 0)
    return sys_err();
  *ret_fd = fd;
  return 0;
}

int64_t fs_read(int fd, void *data, size_t len) {
  for (;;) {
    ssize_t n = read(fd, data, len);
    if (n >= 0)
      return n;
    if (errno != EINTR)
      return sys_err();
  }
}

int fs_write(int fd, const void *data, size_t len, size_t *ret_written) {
  int fault = fs_fault(FS_OP_WRITE);
  if (fault)
    return fault;
  for (;;) {
    ssize_t n = write(fd, data, len);
    if (n >= 0) {
      *ret_written = (size_t)n;
      return 0;
    }
    if (errno != EINTR)
      return sys_err();
  }
}

int fs_fsync(int fd) {
  int fault = fs_fault(FS_OP_FSYNC);
  return fault ? fault : fsync(fd) == 0 ? 0 : sys_err();
}

int fs_close(int fd) {
  return close(fd) == 0 ? 0 : sys_err();
}

void fs_start_writeback(int fd) {
  sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int fs_chmod(const char *path, int mode) {
  return chmod(path, (mode_t)mode) == 0 ? 0 : sys_err();
}

int fs_fchmod(int fd, int mode) {
  return fchmod(fd, (mode_t)mode) == 0 ? 0 : sys_err();
}

int fs_mkdir(const char *path, int mode) {
  int fault = fs_fault(FS_OP_MKDIR);
  return fault ? fault : mkdir(path, (mode_t)mode) == 0 ? 0 : sys_err();
}

int fs_rename(const char *from, const char *to) {
  int fault = fs_fault(FS_OP_RENAME);
  return fault ? fault : rename(from, to) == 0 ? 0 : sys_err();
}

int fs_unlink(const char *path) {
  int fault = fs_fault(FS_OP_UNLINK);
  return fault ? fault : unlink(path) == 0 ? 0 : sys_err();
}

int fs_hard_link(const char *existing, const char *new_path) {
  int fault = fs_fault(FS_OP_LINK);
  return fault ? fault : link(existing, new_path) == 0 ? 0 : sys_err();
}

int fs_each_entry(const char *path, int (*fn)(void *ctx, const char *name), void *ctx) {
  DIR *d = opendir(path);
  if (!d)
    return sys_err();
  int err = 0;
  struct dirent *de;
  while (!err && (de = readdir(d)))
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      err = fn(ctx, de->d_name);
  closedir(d);
  return err;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  if (fs_fault(FS_OP_UNLINK)) {
    errno = EIO;
    return -1;
  }
  int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
  return rc != 0 && errno != ENOENT ? -1 : 0;
}

int fs_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : sys_err();
  if (!S_ISDIR(st.st_mode))
    return fs_unlink(path);
  return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : sys_err();
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
  int err = fs_fsync(fd);
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
  int err = fs_fault(FS_OP_RENAME); /* the switch itself is the rename */
  if (!err && (symlink(target, tmp) != 0 || rename(tmp, link_path) != 0)) {
    err = sys_err();
    unlink(tmp);
  }
  free(tmp);
  return err;
}

int fs_lock_exclusive(const char *path, int *ret_fd, long *ret_holder_pid) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return sys_err();
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno == EWOULDBLOCK ? UV_EBUSY : sys_err();
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = 0;
    *ret_holder_pid = strtol(text, NULL, 10);
    close(fd);
    return err;
  }
  char text[32];
  int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
    int err = sys_err();
    close(fd);
    return err;
  }
  *ret_fd = fd;
  return 0;
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

/* The component walk: each component opened relative to the last, refusing links. */
static int no_links_walk(int dir_fd, char *rel) {
  int fd = dup(dir_fd), err = 0;
  char *save = NULL;
  if (fd < 0)
    return sys_err();
  for (char *part = strtok_r(rel, "/", &save); part && !err; part = strtok_r(NULL, "/", &save)) {
    int next = openat(fd, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (next < 0)
      err = sys_err();
    else if (fstat(next, &st) != 0)
      err = sys_err();
    else if (S_ISLNK(st.st_mode))
      err = UV_ELOOP;
    close(fd);
    fd = next;
  }
  if (fd >= 0)
    close(fd);
  return err;
}

int fs_no_links_below(const char *base, const char *path) {
  size_t n = strlen(base);
  if (strncmp(path, base, n) != 0 || (path[n] != '/' && path[n] != 0))
    return UV_EINVAL;
  const char *rel = path + n;
  while (*rel == '/')
    rel++;
  if (!*rel)
    return 0;
  int base_fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (base_fd < 0)
    return sys_err();
  int err = UV_ENOSYS;
#ifdef SYS_openat2
  struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
  long fd = syscall(SYS_openat2, base_fd, rel, &how, sizeof how);
  if (fd >= 0) {
    /* O_PATH | O_NOFOLLOW opens a final link itself, which RESOLVE_NO_SYMLINKS lets pass */
    struct stat st;
    err = fstat((int)fd, &st) != 0 ? sys_err() : S_ISLNK(st.st_mode) ? UV_ELOOP : 0;
    close((int)fd);
  } else if (errno != ENOSYS && errno != EPERM) {
    err = sys_err(); /* ELOOP for a link, EXDEV for a way out of base */
    if (err == UV_EXDEV)
      err = UV_ELOOP;
  }
#endif
  if (err == UV_ENOSYS) {
    char *copy = strdup(rel);
    err = copy ? no_links_walk(base_fd, copy) : UV_ENOMEM;
    free(copy);
  }
  close(base_fd);
  return err;
}

int fs_rename_at_restart(const char *from, const char *to) {
  (void)from, (void)to; /* nothing here is held open against a rename */
  return UV_ENOTSUP;
}

int fs_replace_at_restart(const char *from, const char *to) {
  return fs_rename_at_restart(from, to);
}

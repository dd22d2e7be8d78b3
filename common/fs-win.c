/*
 * File system primitives for Windows: UTF-16 Win32 calls under UTF-8 paths, and C runtime
 * descriptors (binary, not inherited) over the handles, so fs.h keeps int descriptors.
 */
#include "common/fs.h"

#include "common/err.h"
#include "common/fs-fault.h"
#include "common/win-text.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <windows.h>

/* 100 ns ticks from 1601 to 1970 */
#define EPOCH_DIFFERENCE 116444736000000000LL

static int win_err(void) {
  return uv_translate_sys_error((int)GetLastError());
}

/* The C runtime's errno as a UV_E* code (uv_translate_sys_error takes Win32 codes here). */
static int crt_err(void) {
  switch (errno) {
  case ENOENT:
    return UV_ENOENT;
  case EACCES:
    return UV_EACCES;
  case EEXIST:
    return UV_EEXIST;
  case EBADF:
    return UV_EBADF;
  case ENOSPC:
    return UV_ENOSPC;
  case EMFILE:
    return UV_EMFILE;
  case EINVAL:
    return UV_EINVAL;
  case ENOMEM:
    return UV_ENOMEM;
  default:
    return UV_EIO;
  }
}

static void info_from_handle_data(const BY_HANDLE_FILE_INFORMATION *bh, struct fs_info *ret) {
  DWORD a = bh->dwFileAttributes;
  ret->type = (a & FILE_ATTRIBUTE_REPARSE_POINT) ? FS_LINK
              : (a & FILE_ATTRIBUTE_DIRECTORY)   ? FS_DIR
                                                 : FS_FILE;
  ret->size = ((uint64_t)bh->nFileSizeHigh << 32) | bh->nFileSizeLow;
  int64_t ticks = (int64_t)(((uint64_t)bh->ftLastWriteTime.dwHighDateTime << 32) |
                            bh->ftLastWriteTime.dwLowDateTime);
  ret->mtime_ns = (ticks - EPOCH_DIFFERENCE) * 100;
  ret->id = ((uint64_t)bh->nFileIndexHigh << 32) | bh->nFileIndexLow;
  /* no permission bits: files are published executable, as WSL shows them */
  ret->mode = (a & FILE_ATTRIBUTE_READONLY) ? 0555 : 0755;
  ret->links = bh->nNumberOfLinks;
}

static int info_from_handle(HANDLE h, struct fs_info *ret) {
  BY_HANDLE_FILE_INFORMATION bh;
  if (!GetFileInformationByHandle(h, &bh))
    return win_err();
  info_from_handle_data(&bh, ret);
  /* ChangeTime, which moves on every write and link, is only in the basic information */
  FILE_BASIC_INFO basic;
  ret->ctime_ns = GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic)
                      ? (basic.ChangeTime.QuadPart - EPOCH_DIFFERENCE) * 100
                      : 0;
  return 0;
}

/* Opens path itself (not a reparse point's target), for access. */
static HANDLE open_no_follow(const char *path, DWORD access, DWORD disposition, DWORD flags,
                             int *ret_err) {
  wchar_t *w = win_wide_path(path);
  if (!w) {
    *ret_err = UV_EINVAL;
    return INVALID_HANDLE_VALUE;
  }
  HANDLE h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         disposition,
                         flags | FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
  *ret_err = h == INVALID_HANDLE_VALUE ? win_err() : 0;
  free(w);
  return h;
}

int fs_info_path(const char *path, struct fs_info *ret) {
  int err;
  HANDLE h = open_no_follow(path, FILE_READ_ATTRIBUTES, OPEN_EXISTING, 0, &err);
  if (h == INVALID_HANDLE_VALUE)
    return err;
  err = info_from_handle(h, ret);
  CloseHandle(h);
  return err;
}

int fs_info_fd(int fd, struct fs_info *ret) {
  HANDLE h = (HANDLE)_get_osfhandle(fd);
  return h == INVALID_HANDLE_VALUE ? UV_EBADF : info_from_handle(h, ret);
}

/* Wraps a handle in a C runtime descriptor; refuses reparse points and, for reading,
 * directories. */
static int adopt(HANDLE h, int flags, int want_file, int *ret_fd) {
  struct fs_info info;
  int err = info_from_handle(h, &info);
  if (!err && info.type == FS_LINK)
    err = UV_ELOOP;
  else if (!err && want_file && info.type != FS_FILE)
    err = UV_EISDIR;
  int fd = err ? -1 : _open_osfhandle((intptr_t)h, flags);
  if (!err && fd < 0)
    err = crt_err();
  if (err) {
    CloseHandle(h);
    return err;
  }
  *ret_fd = fd;
  return 0;
}

int fs_open_read(const char *path, int *ret_fd) {
  int err;
  HANDLE h = open_no_follow(path, GENERIC_READ, OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, &err);
  if (h == INVALID_HANDLE_VALUE)
    return err;
  return adopt(h, _O_RDONLY | _O_BINARY, 1, ret_fd);
}

int fs_open_new(const char *path, int mode, int exclusive, int *ret_fd) {
  int err;
  (void)mode;
  HANDLE h = open_no_follow(path, GENERIC_WRITE | GENERIC_READ,
                            exclusive ? CREATE_NEW : CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, &err);
  if (h == INVALID_HANDLE_VALUE)
    return err;
  return adopt(h, _O_WRONLY | _O_BINARY, 1, ret_fd);
}

int64_t fs_read(int fd, void *data, size_t len) {
  unsigned n = len > (1u << 30) ? (1u << 30) : (unsigned)len;
  int got = _read(fd, data, n);
  return got < 0 ? crt_err() : got;
}

int fs_write(int fd, const void *data, size_t len, size_t *ret_written) {
  int fault = fs_fault(FS_OP_WRITE);
  if (fault)
    return fault;
  unsigned n = len > (1u << 30) ? (1u << 30) : (unsigned)len;
  int put = _write(fd, data, n);
  if (put < 0)
    return crt_err();
  *ret_written = (size_t)put;
  return 0;
}

int fs_fsync(int fd) {
  int fault = fs_fault(FS_OP_FSYNC);
  if (fault)
    return fault;
  HANDLE h = (HANDLE)_get_osfhandle(fd);
  return FlushFileBuffers(h) ? 0 : win_err();
}

int fs_close(int fd) {
  return _close(fd) == 0 ? 0 : crt_err();
}

void fs_start_writeback(int fd) {
  (void)fd; /* the cache manager writes behind on its own */
}

int fs_chmod(const char *path, int mode) {
  (void)path, (void)mode; /* no permission bits; ACLs are inherited from the folder */
  return 0;
}

int fs_fchmod(int fd, int mode) {
  (void)fd, (void)mode;
  return 0;
}

int fs_mkdir(const char *path, int mode) {
  (void)mode;
  int fault = fs_fault(FS_OP_MKDIR);
  if (fault)
    return fault;
  wchar_t *w = win_wide_path(path);
  if (!w)
    return UV_EINVAL;
  int err = CreateDirectoryW(w, NULL) ? 0 : win_err();
  free(w);
  return err;
}

int fs_rename(const char *from, const char *to) {
  int fault = fs_fault(FS_OP_RENAME);
  if (fault)
    return fault;
  wchar_t *wf = win_wide_path(from), *wt = win_wide_path(to);
  int err = UV_EINVAL;
  if (wf && wt)
    err = MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) ? 0 : win_err();
  free(wf);
  free(wt);
  return err;
}

/* Deletes a file or an empty folder (or a link to one), read-only or not. */
static int delete_entry(const wchar_t *w, DWORD attrs) {
  int fault = fs_fault(FS_OP_UNLINK);
  if (fault)
    return fault;
  if (attrs & FILE_ATTRIBUTE_READONLY)
    SetFileAttributesW(w, attrs & ~(DWORD)FILE_ATTRIBUTE_READONLY);
  BOOL ok = (attrs & FILE_ATTRIBUTE_DIRECTORY) ? RemoveDirectoryW(w) : DeleteFileW(w);
  return ok ? 0 : win_err();
}

int fs_unlink(const char *path) {
  wchar_t *w = win_wide_path(path);
  if (!w)
    return UV_EINVAL;
  DWORD attrs = GetFileAttributesW(w);
  int err = attrs == INVALID_FILE_ATTRIBUTES     ? win_err()
            : (attrs & FILE_ATTRIBUTE_DIRECTORY) ? UV_EISDIR
                                                 : delete_entry(w, attrs);
  free(w);
  return err;
}

int fs_hard_link(const char *existing, const char *new_path) {
  int fault = fs_fault(FS_OP_LINK);
  if (fault)
    return fault;
  wchar_t *we = win_wide_path(existing), *wn = win_wide_path(new_path);
  int err = UV_EINVAL;
  if (we && wn)
    err = CreateHardLinkW(wn, we, NULL) ? 0 : win_err();
  free(we);
  free(wn);
  return err;
}

int fs_each_entry(const char *path, int (*fn)(void *ctx, const char *name), void *ctx) {
  size_t n = strlen(path);
  char *pattern = malloc(n + 3);
  if (!pattern)
    return UV_ENOMEM;
  snprintf(pattern, n + 3, "%s\\*", path);
  wchar_t *w = win_wide_path(pattern);
  free(pattern);
  if (!w)
    return UV_EINVAL;
  WIN32_FIND_DATAW fd;
  HANDLE h = FindFirstFileExW(w, FindExInfoBasic, &fd, FindExSearchNameMatch, NULL, 0);
  free(w);
  if (h == INVALID_HANDLE_VALUE)
    return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : win_err();
  int err = 0;
  do {
    if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
      continue;
    char *name = win_utf8(fd.cFileName);
    err = name ? fn(ctx, name) : UV_ENOMEM;
    free(name);
  } while (!err && FindNextFileW(h, &fd));
  if (!err && GetLastError() != ERROR_NO_MORE_FILES)
    err = win_err();
  FindClose(h);
  return err;
}

/* Calls fn with the path of each entry of dir; stops at fn's first error. */
struct child_walk {
  const char *dir;
  int (*fn)(const char *path, void *ctx);
  void *ctx;
};

static int visit_child(void *walk, const char *name) {
  struct child_walk *w = walk;
  size_t n = strlen(w->dir) + strlen(name) + 2;
  char *child = malloc(n);
  if (!child)
    return UV_ENOMEM;
  snprintf(child, n, "%s\\%s", w->dir, name);
  int err = w->fn(child, w->ctx);
  free(child);
  return err;
}

static int each_child(const char *dir, int (*fn)(const char *path, void *ctx), void *ctx) {
  struct child_walk w = {dir, fn, ctx};
  return fs_each_entry(dir, visit_child, &w);
}

/* Removes a child and goes on, keeping the first error: remove as much as can be removed. */
static int remove_child(const char *path, void *first_err) {
  int err = fs_remove_tree(path);
  if (err && !*(int *)first_err)
    *(int *)first_err = err;
  return 0;
}

int fs_remove_tree(const char *path) {
  wchar_t *w = win_wide_path(path);
  if (!w)
    return UV_EINVAL;
  DWORD attrs = GetFileAttributesW(w);
  int err = 0;
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    DWORD e = GetLastError();
    err = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? 0 : win_err();
  } else if ((attrs & FILE_ATTRIBUTE_DIRECTORY) && !(attrs & FILE_ATTRIBUTE_REPARSE_POINT)) {
    int first_err = 0;
    err = each_child(path, remove_child, &first_err);
    if (!err)
      err = first_err;
    if (!err)
      err = delete_entry(w, attrs);
  } else {
    /* a file, or a link: removed itself, never what it points at */
    err = delete_entry(w, attrs);
  }
  free(w);
  return err;
}

static int flush_tree(const char *path);

static int flush_child(const char *path, void *ctx) {
  (void)ctx;
  return flush_tree(path);
}

/* Flushes every file under path: what fs_sync does when the volume cannot be opened. */
static int flush_tree(const char *path) {
  struct fs_info info;
  int err = fs_info_path(path, &info);
  if (err || info.type == FS_LINK)
    return err;
  if (info.type == FS_DIR) {
    return each_child(path, flush_child, NULL);
  }
  HANDLE h = open_no_follow(path, GENERIC_WRITE, OPEN_EXISTING, 0, &err);
  if (h == INVALID_HANDLE_VALUE)
    return err;
  err = FlushFileBuffers(h) ? 0 : win_err();
  CloseHandle(h);
  return err;
}

int fs_sync(const char *path) {
  /* Flushing a whole volume needs \\.\C: and administrator rights; without them, or on a
   * path without a drive letter, each file is flushed. */
  if (strlen(path) > 2 && path[1] == ':') {
    wchar_t volume[] = L"\\\\.\\X:";
    volume[4] = (wchar_t)path[0];
    HANDLE h = CreateFileW(volume, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                           OPEN_EXISTING, 0, NULL);
    if (h != INVALID_HANDLE_VALUE) {
      BOOL ok = FlushFileBuffers(h);
      CloseHandle(h);
      if (ok)
        return 0;
    }
  }
  return flush_tree(path);
}

int fs_sync_dir(const char *path) {
  (void)path; /* NTFS journals directory entries: a rename is durable once it returns */
  return 0;
}

int fs_symlink_replace(const char *target, const char *link_path) {
  (void)target, (void)link_path;
  return UV_ENOTSUP;
}

int fs_readlink(const char *path, char *ret, size_t size) {
  (void)path, (void)ret, (void)size;
  return UV_ENOTSUP;
}

/* The lock covers one byte far past the PID, so a second agent can still read who holds it. */
#define FS_LOCK_OFFSET 0x40000000u

int fs_lock_exclusive(const char *path, int *ret_fd, long *ret_holder_pid) {
  int err;
  HANDLE h =
      open_no_follow(path, GENERIC_READ | GENERIC_WRITE, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, &err);
  if (h == INVALID_HANDLE_VALUE)
    return err;
  OVERLAPPED at = {0};
  at.Offset = FS_LOCK_OFFSET;
  char text[32] = "";
  DWORD n = 0;
  if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at)) {
    err = GetLastError() == ERROR_LOCK_VIOLATION ? UV_EBUSY : win_err();
    if (ReadFile(h, text, sizeof text - 1, &n, NULL))
      text[n] = 0;
    *ret_holder_pid = strtol(text, NULL, 10);
    CloseHandle(h);
    return err;
  }
  n = (DWORD)snprintf(text, sizeof text, "%lu\n", (unsigned long)GetCurrentProcessId());
  DWORD put = 0;
  if (SetFilePointer(h, 0, NULL, FILE_BEGIN) == INVALID_SET_FILE_POINTER || !SetEndOfFile(h) ||
      !WriteFile(h, text, n, &put, NULL) || put != n) {
    err = win_err();
    CloseHandle(h);
    return err;
  }
  return adopt(h, _O_RDWR | _O_BINARY, 1, ret_fd);
}

int fs_no_links_below(const char *base, const char *path) {
  size_t n = strlen(base);
  if (strncmp(path, base, n) != 0 || (path[n] && path[n] != '/' && path[n] != '\\'))
    return UV_EINVAL;
  char *prefix = strdup(path);
  if (!prefix)
    return UV_ENOMEM;
  int err = 0;
  /* each component in turn, as itself: a reparse point anywhere is refused */
  for (size_t i = n + 1; !err && i <= strlen(path); i++) {
    if (path[i] && path[i] != '/' && path[i] != '\\')
      continue;
    if (i == n + 1)
      continue; /* a separator right after base */
    prefix[i] = 0;
    struct fs_info info;
    err = fs_info_path(prefix, &info);
    if (!err && info.type == FS_LINK)
      err = UV_ELOOP;
    prefix[i] = path[i];
  }
  free(prefix);
  return err;
}

static int move_at_restart(const char *from, const char *to, DWORD flags) {
  wchar_t *wf = win_wide_path(from), *wt = win_wide_path(to);
  int err = UV_EINVAL;
  if (wf && wt)
    err = MoveFileExW(wf, wt, MOVEFILE_DELAY_UNTIL_REBOOT | flags) ? 0 : win_err();
  free(wf);
  free(wt);
  return err;
}

int fs_rename_at_restart(const char *from, const char *to) {
  return move_at_restart(from, to, 0);
}

int fs_replace_at_restart(const char *from, const char *to) {
  return move_at_restart(from, to, MOVEFILE_REPLACE_EXISTING);
}

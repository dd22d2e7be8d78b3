#include "host-agent/msix.h"

#include "common/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define MSIX_LIB_PREFIX "lib/"
#define MSIX_BLOCK (64 * 1024)

struct msix_reader {
  struct archive *outer;
  struct archive *inner; /* NULL for a plain .msix */
  uint8_t block[MSIX_BLOCK];
};

static struct archive *zip_reader(void) {
  struct archive *a = archive_read_new();
  if (a)
    archive_read_support_format_zip(a);
  return a;
}

/* The inner package is read as a stream out of the outer archive's current entry. */
static la_ssize_t inner_read(struct archive *a, void *ctx, const void **ret) {
  (void)a;
  struct msix_reader *r = ctx;
  la_ssize_t n = archive_read_data(r->outer, r->block, sizeof r->block);
  *ret = r->block;
  return n;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Positions a on the entry called name; 0, UV_ENOENT or UV_EIO. */
static int seek_entry(struct archive *a, const char *name) {
  struct archive_entry *e;
  int rc;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
    if (strcmp(archive_entry_pathname(e), name) == 0)
      return 0;
  return rc == ARCHIVE_EOF ? UV_ENOENT : UV_EIO;
}

static void reader_free(struct msix_reader *r) {
  if (!r)
    return;
  if (r->inner)
    archive_read_free(r->inner);
  if (r->outer)
    archive_read_free(r->outer);
  free(r);
}

/* Opens path, and inner inside it when given; the returned reader is positioned at the start. */
static int reader_open(const char *path, const char *inner, struct msix_reader **ret) {
  struct msix_reader *r = calloc(1, sizeof *r);
  int err = UV_ENOMEM;
  if (!r || !(r->outer = zip_reader()))
    goto fail;
  err = UV_EIO;
  if (archive_read_open_filename(r->outer, path, MSIX_BLOCK) != ARCHIVE_OK)
    goto fail;
  if (inner && *inner) {
    if ((err = seek_entry(r->outer, inner)))
      goto fail;
    err = UV_ENOMEM;
    if (!(r->inner = zip_reader()))
      goto fail;
    err = UV_EIO;
    if (archive_read_open(r->inner, r, NULL, inner_read, NULL) != ARCHIVE_OK)
      goto fail;
  }
  *ret = r;
  return 0;
fail:
  reader_free(r);
  return err;
}

static struct archive *reader_current(struct msix_reader *r) {
  return r->inner ? r->inner : r->outer;
}

/* Picks the package to read inside a bundle: the x64 one, else the first .msix. */
static int choose_inner(const char *path, char *inner, size_t inner_size) {
  struct msix_reader *r;
  int err = reader_open(path, NULL, &r);
  if (err)
    return err;
  struct archive_entry *e;
  int rc;
  inner[0] = 0;
  while ((rc = archive_read_next_header(r->outer, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    const char *name = archive_entry_pathname(e);
    if (!ends_with(name, ".msix") || strlen(name) >= inner_size)
      continue;
    if (!inner[0] || (strstr(name, "x64") && !strstr(inner, "x64")))
      snprintf(inner, inner_size, "%s", name);
  }
  reader_free(r);
  return inner[0] ? 0 : UV_ENOENT;
}

static int walk_lib(const char *path, const char *inner, msix_entry_cb cb, void *ctx,
                    int *ret_found) {
  struct msix_reader *r;
  int err = reader_open(path, inner, &r);
  if (err)
    return err;
  struct archive *a = reader_current(r);
  struct archive_entry *e;
  int rc;
  *ret_found = 0;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    const char *name = archive_entry_pathname(e);
    if (strncmp(name, MSIX_LIB_PREFIX, strlen(MSIX_LIB_PREFIX)) != 0)
      continue;
    *ret_found = 1;
    if (archive_entry_filetype(e) != AE_IFREG || !name[strlen(MSIX_LIB_PREFIX)])
      continue;
    if ((err = cb(ctx, r, inner, name + strlen(MSIX_LIB_PREFIX), (uint64_t)archive_entry_size(e))))
      goto out;
  }
  if (rc != ARCHIVE_EOF)
    err = UV_EIO;
out:
  reader_free(r);
  return err;
}

int msix_foreach_lib(const char *path, msix_entry_cb cb, void *ctx, char *inner, size_t inner_size,
                     char *err_text, size_t err_size) {
  int found;
  inner[0] = 0;
  int err = walk_lib(path, NULL, cb, ctx, &found);
  if (!err && !found) { /* a bundle holds packages, not lib/ */
    if ((err = choose_inner(path, inner, inner_size)) == 0)
      err = walk_lib(path, inner, cb, ctx, &found);
    if (!err && !found)
      err = UV_ENOENT;
  }
  if (err)
    snprintf(err_text, err_size, "%s%s%s: %s", path, inner[0] ? "!" : "", inner,
             err == UV_ENOENT ? "no lib/ folder in the package" : "cannot read the archive");
  return err;
}

int msix_open(const char *path, const char *inner, const char *name, struct msix_reader **ret) {
  struct msix_reader *r;
  int err = reader_open(path, inner, &r);
  if (err)
    return err;
  char full[1100];
  snprintf(full, sizeof full, MSIX_LIB_PREFIX "%s", name);
  if ((err = seek_entry(reader_current(r), full))) {
    reader_free(r);
    return err;
  }
  *ret = r;
  return 0;
}

ssize_t msix_reader_read(struct msix_reader *r, void *buf, size_t n) {
  la_ssize_t got = archive_read_data(reader_current(r), buf, n);
  return got < 0 ? UV_EIO : (ssize_t)got;
}

void msix_reader_close(struct msix_reader *r) {
  reader_free(r);
}

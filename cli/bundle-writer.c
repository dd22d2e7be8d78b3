#include "cli/bundle-writer.h"

#include "common/err.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

struct bundle_writer {
  struct archive *a;
  char path[1024], part[1040];
  char *agent_path;
  struct bundle_header header;
  enum { W_HEADER, W_MANIFEST, W_BLOB, W_BETWEEN } phase;
  uint8_t want[HASH_LEN]; /* what the entry being written must hash to */
  uint64_t left;          /* its bytes still to come */
  struct hash_ctx hash;
  int hashing;
  uint64_t blobs, bytes;
};

/* The last component of path (either slash, for Windows paths too). */
static const char *base_name(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  return base;
}

static int archive_failed(struct bundle_writer *w, const char *what, char *err, size_t n) {
  snprintf(err, n, "%s: %s", what, archive_error_string(w->a) ? archive_error_string(w->a) : "?");
  return GPUPV_EMANIFEST;
}

int bundle_writer_open(const char *path, enum bundle_compression compression,
                       const char *agent_path, struct bundle_writer **ret, char *err,
                       size_t err_size) {
  struct bundle_writer *w = calloc(1, sizeof *w);
  if (!w)
    return UV_ENOMEM;
  snprintf(w->path, sizeof w->path, "%s", path);
  snprintf(w->part, sizeof w->part, "%s.part", path);
  w->agent_path = agent_path ? strdup(agent_path) : NULL;
  w->a = archive_write_new();
  int rc = w->a ? archive_write_set_format_pax_restricted(w->a) : ARCHIVE_FATAL;
  if (rc == ARCHIVE_OK)
    rc = compression == BUNDLE_ZSTD   ? archive_write_add_filter_zstd(w->a)
         : compression == BUNDLE_GZIP ? archive_write_add_filter_gzip(w->a)
                                      : archive_write_add_filter_none(w->a);
  if (rc != ARCHIVE_OK) {
    int e = w->a ? archive_failed(w, "the archive", err, err_size) : UV_ENOMEM;
    if (compression == BUNDLE_ZSTD && w->a)
      snprintf(err, err_size, "this build of gpupv cannot write zstd; use --compression gzip");
    bundle_writer_abort(w);
    return e;
  }
  if (archive_write_open_filename(w->a, w->part) != ARCHIVE_OK) {
    int e = archive_failed(w, w->part, err, err_size);
    bundle_writer_abort(w);
    return e;
  }
  *ret = w;
  return 0;
}

/* Starts an entry of size bytes named name. */
static int begin_entry(struct bundle_writer *w, const char *name, uint64_t size, int mode,
                       char *err, size_t err_size) {
  struct archive_entry *e = archive_entry_new();
  if (!e)
    return UV_ENOMEM;
  archive_entry_set_pathname(e, name);
  archive_entry_set_size(e, (la_int64_t)size);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, mode);
  archive_entry_set_mtime(e, time(NULL), 0);
  int rc = archive_write_header(w->a, e);
  archive_entry_free(e);
  return rc == ARCHIVE_OK ? 0 : archive_failed(w, name, err, err_size);
}

static int write_bytes(struct bundle_writer *w, const void *data, size_t len, char *err,
                       size_t err_size) {
  if (len && archive_write_data(w->a, data, len) != (la_ssize_t)len)
    return archive_failed(w, w->part, err, err_size);
  return 0;
}

int bundle_writer_header(struct bundle_writer *w, const struct bundle_header *h, char *err,
                         size_t err_size) {
  if (w->phase != W_HEADER) {
    snprintf(err, err_size, "the host agent sent a second bundle header");
    return GPUPV_EORDER;
  }
  w->header = *h;
  w->header.agent[0] = 0;
  if (w->agent_path)
    snprintf(w->header.agent, sizeof w->header.agent, "%s%s", BUNDLE_AGENT_PREFIX,
             base_name(w->agent_path));
  cJSON *o = bundle_header_json(&w->header);
  char *text = o ? cJSON_Print(o) : NULL;
  cJSON_Delete(o);
  if (!text)
    return UV_ENOMEM;
  size_t len = strlen(text);
  int rc = begin_entry(w, BUNDLE_HEADER_NAME, len, 0644, err, err_size);
  if (!rc)
    rc = write_bytes(w, text, len, err, err_size);
  cJSON_free(text);
  if (!rc)
    rc = begin_entry(w, BUNDLE_MANIFEST_NAME, h->manifest_size, 0644, err, err_size);
  if (rc)
    return rc;
  memcpy(w->want, h->generation, HASH_LEN);
  w->left = h->manifest_size;
  w->phase = W_MANIFEST;
  if ((rc = hash_init(&w->hash)))
    return rc;
  w->hashing = 1;
  return 0;
}

int bundle_writer_blob(struct bundle_writer *w, const uint8_t sha256[HASH_LEN], uint64_t size,
                       char *err, size_t err_size) {
  if (w->phase != W_BETWEEN || w->blobs >= w->header.blobs) {
    snprintf(err, err_size, "the host agent sent a blob out of order");
    return GPUPV_EORDER;
  }
  char name[sizeof BUNDLE_BLOB_PREFIX + HASH_HEX_LEN];
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(sha256, hex);
  snprintf(name, sizeof name, "%s%s", BUNDLE_BLOB_PREFIX, hex);
  int rc = begin_entry(w, name, size, 0644, err, err_size);
  if (rc || (rc = hash_init(&w->hash)))
    return rc;
  w->hashing = 1;
  memcpy(w->want, sha256, HASH_LEN);
  w->left = size;
  w->phase = W_BLOB;
  w->blobs++;
  w->bytes += size;
  if (!size)
    return bundle_writer_data(w, NULL, 0, err, err_size);
  return 0;
}

int bundle_writer_data(struct bundle_writer *w, const uint8_t *data, size_t len, char *err,
                       size_t err_size) {
  if ((w->phase != W_MANIFEST && w->phase != W_BLOB) || len > w->left) {
    snprintf(err, err_size, "the host agent sent more data than announced");
    return GPUPV_EPROTO;
  }
  hash_update(&w->hash, data, len);
  int rc = write_bytes(w, data, len, err, err_size);
  if (rc)
    return rc;
  if ((w->left -= len))
    return 0;
  uint8_t got[HASH_LEN];
  hash_final(&w->hash, got);
  w->hashing = 0;
  if (memcmp(got, w->want, HASH_LEN) != 0) {
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(w->want, hex);
    snprintf(err, err_size,
             "%s %.12s arrived with other content (the host's source changed as it was read); "
             "let the host rescan, then try again",
             w->phase == W_MANIFEST ? "the manifest of generation" : "blob", hex);
    return GPUPV_EHASH;
  }
  w->phase = W_BETWEEN;
  return 0;
}

/* Adds the agent's file as agent/<name>, a chunk at a time (a package may be large). */
static int add_agent(struct bundle_writer *w, char *err, size_t err_size) {
  int fd, rc;
  struct fs_info info;
  uint8_t chunk[65536];
  if ((rc = fs_open_read(w->agent_path, &fd))) {
    snprintf(err, err_size, "--with-agent %s: %s", w->agent_path, gpupv_strerror(rc));
    return rc;
  }
  if ((rc = fs_info_fd(fd, &info)))
    snprintf(err, err_size, "--with-agent %s: %s", w->agent_path, gpupv_strerror(rc));
  else
    rc = begin_entry(w, w->header.agent, info.size, 0755, err, err_size);
  for (uint64_t left = info.size; !rc && left;) {
    int64_t n = fs_read(fd, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk);
    if (n <= 0) { /* shorter than it was: it changed while it was read */
      rc = n < 0 ? (int)n : UV_EAGAIN;
      snprintf(err, err_size, "--with-agent %s: %s", w->agent_path,
               n < 0 ? gpupv_strerror(rc) : "it changed while it was read");
      break;
    }
    rc = write_bytes(w, chunk, (size_t)n, err, err_size);
    left -= (uint64_t)n;
  }
  fs_close(fd);
  return rc;
}

int bundle_writer_finish(struct bundle_writer *w, uint64_t *ret_size, char *err, size_t err_size) {
  if (w->phase != W_BETWEEN || w->blobs != w->header.blobs) {
    snprintf(err, err_size, "the host agent ended the bundle after %llu of %llu blobs",
             (unsigned long long)w->blobs, (unsigned long long)w->header.blobs);
    return GPUPV_EPROTO;
  }
  int rc = w->agent_path ? add_agent(w, err, err_size) : 0;
  if (rc)
    return rc;
  if (archive_write_close(w->a) != ARCHIVE_OK)
    return archive_failed(w, w->part, err, err_size);
  archive_write_free(w->a);
  w->a = NULL;
  /* on disk before it has its name: a crash leaves PATH.part, never a short PATH */
  int fd;
  struct fs_info info;
  if (!(rc = fs_open_read(w->part, &fd))) {
    rc = fs_fsync(fd);
    if (!rc)
      rc = fs_info_fd(fd, &info);
    fs_close(fd);
  }
  if (!rc)
    rc = fs_rename(w->part, w->path);
  if (rc) {
    snprintf(err, err_size, "%s: %s", w->part, gpupv_strerror(rc));
    return rc;
  }
  char dir[1024];
  snprintf(dir, sizeof dir, "%.*s", (int)(base_name(w->path) - w->path), w->path);
  fs_sync_dir(*dir ? dir : ".");
  *ret_size = info.size;
  free(w->agent_path);
  free(w);
  return 0;
}

void bundle_writer_abort(struct bundle_writer *w) {
  if (!w)
    return;
  if (w->hashing)
    hash_done(&w->hash);
  if (w->a)
    archive_write_free(w->a);
  fs_unlink(w->part);
  free(w->agent_path);
  free(w);
}

#include "guest-agent/bundle-install.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/text.h"
#include "proto/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BUNDLE_READ_CHUNK (256u << 10)

struct install {
  struct archive *a;
  const struct store *s;
  char *err;
  size_t err_size;
  struct bundle_header h;
  struct buf manifest_bytes;
  struct manifest *m;
  struct manifest_blob *blobs; /* sorted by hash */
  size_t nblobs;
  uint8_t *state; /* per blob: 0 not needed, 1 needed, 2 received */
  struct object_records fresh;
  uint64_t taken, taken_bytes;
  uint8_t *chunk;
};

static int fail(struct install *in, int err, const char *fmt, ...) GPUPV_PRINTF(3, 4);

static int fail(struct install *in, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(in->err, in->err_size, fmt, ap);
  va_end(ap);
  return err;
}

static int archive_fail(struct install *in, const char *what) {
  const char *why = archive_error_string(in->a);
  /* a libarchive built without libzstd (the Windows build's) looks for a zstd program */
  const char *hint = why && strstr(why, "zstd") ? "; this gpupv-guestd cannot read zstd: make the "
                                                  "bundle with `gpupv bundle --compression gzip`"
                                                : "";
  return fail(in, GPUPV_EMANIFEST, "%s: %s%s", what, why ? why : "not a readable archive", hint);
}

/* The next entry, which must be a regular file; 1 at the end of the archive. */
static int next_entry(struct install *in, struct archive_entry **ret, const char *want) {
  int rc = archive_read_next_header(in->a, ret);
  if (rc == ARCHIVE_EOF) {
    if (want)
      return fail(in, GPUPV_EMANIFEST, "not a gpupv bundle: it ends before %s", want);
    return 1;
  }
  if (rc != ARCHIVE_OK)
    return archive_fail(in, "reading the bundle");
  if (archive_entry_filetype(*ret) != AE_IFREG || !archive_entry_size_is_set(*ret))
    return fail(in, GPUPV_EMANIFEST, "the bundle's entry %.200s is not a plain file",
                archive_entry_pathname(*ret) ? archive_entry_pathname(*ret) : "?");
  const char *name = archive_entry_pathname(*ret);
  if (want && (!name || strcmp(name, want) != 0))
    return fail(in, GPUPV_EMANIFEST, "not a gpupv bundle: %s is not its %s entry",
                name ? "an entry without a name" : "?", want);
  return 0;
}

/* Reads the current entry, of size bytes (at most max), into out. */
static int read_whole(struct install *in, struct archive_entry *e, size_t max, struct buf *out) {
  la_int64_t size = archive_entry_size(e);
  if (size < 0 || (uint64_t)size > max)
    return fail(in, GPUPV_ELIMIT, "the bundle's %s is larger than %zu bytes",
                archive_entry_pathname(e), max);
  if (buf_reserve(out, (size_t)size + 1))
    return UV_ENOMEM;
  la_ssize_t n = archive_read_data(in->a, out->data, (size_t)size);
  if (n != size)
    return archive_fail(in, archive_entry_pathname(e));
  out->len = (size_t)size;
  out->data[out->len] = 0;
  return 0;
}

static int read_header(struct install *in, struct host_key *trusted) {
  struct archive_entry *e;
  struct buf text;
  buf_init(&text);
  int err = next_entry(in, &e, BUNDLE_HEADER_NAME);
  if (!err)
    err = read_whole(in, e, BUNDLE_HEADER_MAX, &text);
  cJSON *o = err ? NULL : cJSON_ParseWithLength((const char *)text.data, text.len);
  buf_done(&text);
  if (err)
    return err;
  const char *reason = "not JSON";
  if (!o || bundle_header_parse(o, &in->h, &reason)) {
    cJSON_Delete(o);
    return fail(in, GPUPV_EFIELD, "the bundle's header is not valid (%s)", reason);
  }
  cJSON_Delete(o);
  char key[2 * SIGN_KEY_LEN + 1], pinned[2 * SIGN_KEY_LEN + 1], gen[HASH_HEX_LEN + 1];
  text_hex_encode(in->h.key, SIGN_KEY_LEN, key);
  text_hex_encode(trusted->key, SIGN_KEY_LEN, pinned);
  hash_to_hex(in->h.generation, gen);
  if (!host_key_may_sign(trusted, in->h.key))
    return fail(in, GPUPV_ESIGNATURE,
                "the bundle is signed by host key %.16s..., but this guest trusts %.16s... (%s); "
                "refused",
                key, pinned, host_key_source(trusted));
  if (sign_verify_generation(in->h.key, in->h.generation, in->h.signature))
    return fail(in, GPUPV_ESIGNATURE,
                "the bundle's signature over generation %.12s is bad; refused", gen);
  return 0;
}

static int read_manifest(struct install *in) {
  struct archive_entry *e;
  int err = next_entry(in, &e, BUNDLE_MANIFEST_NAME);
  if (err)
    return err;
  if ((uint64_t)archive_entry_size(e) != in->h.manifest_size)
    return fail(in, GPUPV_EMANIFEST, "the bundle's manifest is not the size its header says");
  if ((err = read_whole(in, e, BUNDLE_MANIFEST_MAX, &in->manifest_bytes)))
    return err;
  uint8_t got[HASH_LEN];
  char gen[HASH_HEX_LEN + 1];
  hash_to_hex(in->h.generation, gen);
  hash_bytes(in->manifest_bytes.data, in->manifest_bytes.len, got);
  if (memcmp(got, in->h.generation, HASH_LEN) != 0)
    return fail(in, GPUPV_EHASH, "the bundle's manifest does not hash to generation %.12s", gen);
  const char *reason = NULL;
  if ((err = manifest_decode(in->manifest_bytes.data, in->manifest_bytes.len,
                             &MANIFEST_DEFAULT_LIMITS, &in->m, &reason)))
    return fail(in, err, "the manifest of generation %.12s is refused: %s", gen,
                reason ? reason : gpupv_strerror(err));
  if (manifest_blobs(in->m, &in->blobs, &in->nblobs) ||
      !(in->state = calloc(in->nblobs ? in->nblobs : 1, 1)))
    return UV_ENOMEM;
  return 0;
}

static int cmp_blob(const void *key, const void *elem) {
  return memcmp(key, ((const struct manifest_blob *)elem)->sha256, HASH_LEN);
}

/* Marks what the store lacks as needed. */
static int plan(struct install *in) {
  uint8_t *want = NULL;
  size_t nwant = 0;
  uint64_t bytes = 0;
  int err = store_plan(in->s, in->m, NULL, &want, &nwant, &bytes);
  if (err)
    return fail(in, err, "checking what this guest already holds: %s", gpupv_strerror(err));
  for (size_t i = 0; i < nwant; i++) {
    const struct manifest_blob *b =
        bsearch(want + i * HASH_LEN, in->blobs, in->nblobs, sizeof *in->blobs, cmp_blob);
    if (b)
      in->state[b - in->blobs] = 1;
  }
  free(want);
  return 0;
}

/* Writes the current entry, blob b, into the object store, hashing it on the way. */
static int take_blob(struct install *in, size_t b) {
  const struct manifest_blob *blob = &in->blobs[b];
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(blob->sha256, hex);
  struct store_blob *sb = NULL;
  struct hash_ctx hash;
  int err = store_blob_open(in->s, blob->sha256, &sb);
  if (err)
    return fail(in, err, "blob %.12s: %s", hex, gpupv_strerror(err));
  if ((err = hash_init(&hash))) {
    store_blob_abort(sb);
    return err;
  }
  for (;;) {
    la_ssize_t n = archive_read_data(in->a, in->chunk, BUNDLE_READ_CHUNK);
    if (n < 0) {
      err = archive_fail(in, hex);
      break;
    }
    if (n == 0)
      break;
    hash_update(&hash, in->chunk, (size_t)n);
    if ((err = store_blob_write(sb, in->chunk, (size_t)n))) {
      fail(in, err, "blob %.12s: %s", hex, gpupv_strerror(err));
      break;
    }
  }
  if (err) {
    hash_done(&hash);
    store_blob_abort(sb);
    return err;
  }
  uint8_t digest[HASH_LEN];
  struct object_record record;
  hash_final(&hash, digest);
  if ((err = store_blob_finish(sb, digest, &record)))
    return fail(in, err, "the bundle's blob %.12s does not hold the content of that hash%s", hex,
                err == GPUPV_EHASH ? "" : " (it could not be stored)");
  if (records_put(&in->fresh, &record))
    return UV_ENOMEM;
  in->state[b] = 2;
  in->taken++;
  in->taken_bytes += blob->size;
  return 0;
}

static int read_blobs(struct install *in) {
  struct archive_entry *e;
  int err;
  while ((err = next_entry(in, &e, NULL)) == 0) {
    const char *name = archive_entry_pathname(e);
    uint8_t sha[HASH_LEN];
    if (name && strncmp(name, BUNDLE_AGENT_PREFIX, strlen(BUNDLE_AGENT_PREFIX)) == 0)
      continue; /* the agent's package travels for a first install; not ours to read */
    if (!name || bundle_blob_name(name, sha))
      return fail(in, GPUPV_EMANIFEST, "the bundle holds an entry that is no blob: %.200s",
                  name ? name : "?");
    const struct manifest_blob *blob =
        bsearch(sha, in->blobs, in->nblobs, sizeof *in->blobs, cmp_blob);
    if (!blob)
      return fail(in, GPUPV_EMANIFEST,
                  "the bundle holds blob %.12s, which its manifest does not "
                  "list; refused",
                  name + strlen(BUNDLE_BLOB_PREFIX));
    if ((uint64_t)archive_entry_size(e) != blob->size)
      return fail(in, GPUPV_EMANIFEST, "the bundle's blob %.12s is not the size its manifest says",
                  name + strlen(BUNDLE_BLOB_PREFIX));
    size_t b = (size_t)(blob - in->blobs);
    if (in->state[b] == 1 && (err = take_blob(in, b)))
      return err;
  }
  if (err < 0)
    return err;
  size_t missing = 0, first = 0;
  for (size_t i = 0; i < in->nblobs; i++)
    if (in->state[i] == 1 && !missing++)
      first = i;
  if (missing) {
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(in->blobs[first].sha256, hex);
    return fail(in, GPUPV_EMANIFEST,
                "the bundle lacks %zu blob%s this guest needs (the first: %.12s); nothing was "
                "installed",
                missing, missing == 1 ? "" : "s", hex);
  }
  return 0;
}

/* Content the store held already: not needed, and not empty. */
static uint64_t already_here(const struct install *in) {
  uint64_t n = 0;
  for (size_t i = 0; i < in->nblobs; i++)
    n += in->state[i] == 0 && in->blobs[i].size > 0;
  return n;
}

int bundle_install(const char *path, const struct store *s, struct host_key *trusted, char *err,
                   size_t err_size, char *note, size_t note_size, char *warn, size_t warn_size) {
  struct install in = {.s = s, .err = err, .err_size = err_size};
  buf_init(&in.manifest_bytes);
  records_init(&in.fresh);
  *err = *note = *warn = 0;
  int rc = UV_ENOMEM;
  if (!(in.chunk = malloc(BUNDLE_READ_CHUNK)) || !(in.a = archive_read_new()))
    goto out;
  archive_read_support_filter_all(in.a);
  archive_read_support_format_tar(in.a);
  if (archive_read_open_filename(in.a, path, BUNDLE_READ_CHUNK) != ARCHIVE_OK) {
    rc = archive_fail(&in, path);
    goto out;
  }
  char why[1400];
  if ((rc = read_header(&in, trusted)) || (rc = read_manifest(&in)))
    goto out;
  if ((rc = host_key_pin(trusted, in.h.key, why, sizeof why))) {
    fail(&in, rc, "%s", why);
    goto out;
  }
  if ((rc = plan(&in)) || (rc = read_blobs(&in)))
    goto out;
  if ((rc = store_install(s, in.m, &in.fresh, in.manifest_bytes.data, in.manifest_bytes.len, err,
                          err_size, warn, warn_size)))
    goto out;
  char gen[HASH_HEX_LEN + 1];
  hash_to_hex(in.h.generation, gen);
  snprintf(note, note_size,
           "installed generation %.12s from host %s (bundle of %s): %zu files; %llu blobs "
           "(%llu bytes) taken from the bundle, %llu already here",
           gen, in.h.host, in.h.created[0] ? in.h.created : "an unknown time", in.m->nfiles,
           (unsigned long long)in.taken, (unsigned long long)in.taken_bytes,
           (unsigned long long)already_here(&in));
out:
  if (in.a)
    archive_read_free(in.a);
  free(in.chunk);
  free(in.state);
  free(in.blobs);
  if (in.m)
    manifest_free(in.m);
  buf_done(&in.manifest_bytes);
  records_done(&in.fresh);
  return rc;
}

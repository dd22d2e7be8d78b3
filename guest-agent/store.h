/*
 * The guest's installed generations. On Linux (store-posix.c), under ROOT/usr/lib/wsl:
 *
 *   drivers -> .gpupv/current/drivers        the visible tree: two symlinks that never change
 *   lib     -> .gpupv/current/lib
 *   .gpupv/current  -> generations/<id>      switched with one atomic rename
 *   .gpupv/previous -> generations/<id>      kept for rollback
 *   .gpupv/generations/<id>/{drivers,lib}/   complete generations: hard links to objects
 *   .gpupv/generations/<id>.manifest         each generation's manifest, its completion marker
 *   .gpupv/objects/<sha256>[.x]              verified content (objects.h)
 *   .gpupv/records                           what proves each object unchanged (objects.h)
 *   .gpupv/staging/build-<id>/               a generation being built
 *
 * On Windows (store-win.c), ROOT is System32 and the same .gpupv folder lives in
 * ROOT\HostDriverStore, beside FileRepository, which holds real package folders: see
 * store-win.c for how they are switched.
 *
 * Every function here blocks: call it from the thread pool.
 */
#ifndef GPUPV_GUEST_STORE_H
#define GPUPV_GUEST_STORE_H

#include "common/hash.h"
#include "guest-agent/objects.h"
#include "proto/manifest.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct store {
  char root[1024];
  char top[1100];     /* ROOT/usr/lib/wsl, or ROOT\HostDriverStore on Windows */
  char base[1200];    /* .../.gpupv */
  char objects[1300]; /* .../.gpupv/objects */
  int run_ldconfig;
};

/* Fills paths for root; creates nothing. */
int store_init(struct store *s, const char *root);
/* The current generation: 1 with *ret set, 0 when none is installed. */
int store_current(const struct store *s, uint8_t ret[HASH_LEN]);
/* The previous generation, as store_current. */
int store_previous(const struct store *s, uint8_t ret[HASH_LEN]);

/*
 * The distinct hashes of m the guest lacks: not empty and not an object that holds its
 * content (checked by its record, or hashed again). fresh holds the records of objects this
 * process received (NULL is fine). *ret is new (HASH_LEN bytes each).
 */
int store_plan(const struct store *s, const struct manifest *m, const struct object_records *fresh,
               uint8_t **ret, size_t *ret_count, uint64_t *ret_bytes);

/* Receiving one blob into staging; the caller hashes what it writes. */
struct store_blob;
int store_blob_open(const struct store *s, const uint8_t sha256[HASH_LEN], struct store_blob **ret);
int store_blob_write(struct store_blob *b, const void *data, size_t len);
/* Publishes the blob as an object when digest is the hash it was opened for, filling
 * *ret_record, else fails with GPUPV_EHASH; frees b either way. */
int store_blob_finish(struct store_blob *b, const uint8_t digest[HASH_LEN],
                      struct object_record *ret_record);
/* Drops an unfinished blob; NULL is fine. */
void store_blob_abort(struct store_blob *b);

/*
 * Builds generation m from its objects (or puts back the files of a built one that are not
 * their objects any more), then switches to it atomically, writes ld.wsl.conf (running ldconfig
 * when run_ldconfig is set) and prunes what no kept generation uses. On failure err names the
 * problem and the visible tree is unchanged. The switch is the commit point: a problem after it
 * (ld.wsl.conf, ldconfig, a folder in use) is said in warn (empty when there is none) and the
 * install still succeeds.
 */
int store_install(const struct store *s, const struct manifest *m,
                  const struct object_records *fresh, const uint8_t *manifest_bytes,
                  size_t manifest_len, char *err, size_t err_size, char *warn, size_t warn_size);
/* The folders moved aside from a manual install (.gpupv/legacy-*): a new JSON array of
 * {"name", "bytes"}, or NULL when out of memory. Blocks: walks the folders. */
cJSON *store_legacy_json(const struct store *s);
/* Removes those folders; what went, one line each, into report. 0 or the first error. */
int store_prune_legacy(const struct store *s, char *report, size_t report_size);
/* 1 while a switch waits for the next restart (Windows: a package folder was in use; the
 * visible tree is still the old generation, whole). */
int store_reboot_pending(const struct store *s);
/* The system files that wait for the next restart (Windows: a destination was in use), as a
 * new JSON array of names, or NULL when there are none. */
cJSON *store_reboot_files(const struct store *s);
/* Switches back to the previous generation. */
int store_rollback(const struct store *s, char *err, size_t err_size);

/* Whether this guest takes manifests with system files (the system_files capability): a Linux
 * guest has no System32 and ignores them; a Windows guest places them after each switch.
 * Per platform (store-posix.c, store-win.c). */
int store_takes_system_files(void);

#endif

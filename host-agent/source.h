/*
 * What the host publishes: scans the configured DriverStore packages and library folders (or a
 * WSL .msix) into a manifest, with a hash cache, and reads blob content back for sending.
 * Everything here blocks: call it from the thread pool.
 */
#ifndef GPUPV_HOST_SOURCE_H
#define GPUPV_HOST_SOURCE_H

#include "common/options.h"
#include "proto/manifest.h"

#include <stdint.h>
#include <sys/types.h>

struct system_file_spec;
struct inf_copy;

/* A package's CopyToVm lists as an installed driver's registry key has them (discovery). */
struct package_copy_list {
  char package[256];
  struct inf_copy *list;
  size_t n;
};

struct source_config {
  const char *driver_store;       /* folder of package folders, or NULL */
  const struct strlist *packages; /* names to publish; empty means every folder */
  const char *lib_inbox;          /* like System32\lxss\lib, or NULL */
  const char *lib_packaged;       /* like Program Files\WSL\lib, or NULL */
  const char *wsl_msix;           /* .msix or .msixbundle whose lib/ is read, or NULL */
  const char *cache_path;         /* hash cache file, or NULL for none */
  /* --system-file: the System32/SysWOW64 files instead of the INFs' CopyToVm lists */
  const struct system_file_spec *system_specs;
  size_t nsystem_specs;
  /* the installed drivers' lists, which a package's INF gives way to (discovery), or NULL */
  const struct package_copy_list *registry_lists;
  size_t nregistry_lists;
};

/* Where a file's content lives on the host. */
struct source_ref {
  char *path;   /* a file, or the archive */
  char *inner;  /* the package inside a bundle, or NULL */
  char *member; /* the name under lib/ in the archive, or NULL for a plain file */
};

struct scan_stats {
  uint64_t files, bytes, files_hashed, bytes_hashed, skipped;
};

/* A published generation; shared by sessions still sending it, so reference counted. */
struct generation {
  int refs;
  struct manifest m;
  struct buf encoded;          /* canonical manifest bytes; SHA-256 is m.id */
  struct manifest_blob *blobs; /* sorted by hash */
  size_t nblobs;
  struct source_ref *refs_by_tag; /* indexed by manifest_file.tag */
  size_t nrefs;
  struct scan_stats stats;
  char id_hex[HASH_HEX_LEN + 1];
  /* the plain form: without the system files, for guests without the system_files capability
   * (a guest of the previous release); empty, and the id m.id, when there are none */
  struct buf plain_encoded;
  uint8_t plain_id[HASH_LEN];
  char plain_id_hex[HASH_HEX_LEN + 1];
};

/* One form of a generation as a guest is offered it. */
struct generation_form {
  const struct buf *encoded;
  const uint8_t *id;
  const char *id_hex;
};

/* The form for a guest that has (1) or lacks (0) the system_files capability. */
struct generation_form generation_form(const struct generation *g, int system_files);

struct stamps;
/* Scans; on success *ret is new with one reference. On failure err holds one line. seen (or
 * NULL) gets what the scan saw of every file and folder it read (stamps.h). */
int source_scan(const struct source_config *cfg, struct stamps *seen, struct generation **ret,
                char *err, size_t err_size);
struct generation *generation_ref(struct generation *g);
void generation_unref(struct generation *g);
/* The source of blob index b. */
const struct source_ref *generation_blob_ref(const struct generation *g, size_t b);

struct source_reader;
/* Opens a blob for reading and checks it still has the size it had when scanned. */
int source_open(const struct source_ref *ref, uint64_t size, struct source_reader **ret);
ssize_t source_read(struct source_reader *r, void *buf, size_t n);
void source_close(struct source_reader *r);

#endif

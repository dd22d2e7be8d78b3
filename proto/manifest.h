/*
 * The manifest of a generation: packages (DriverStore folders) and libraries, each file with
 * its relative path, size, mode and SHA-256; and the system files a Windows guest copies from
 * its packages into System32 or SysWOW64 (the driver's CopyToVm lists). Its canonical encoding is
 * compact JSON in a fixed member order with packages sorted by name and files by path; the
 * generation id is the SHA-256 of that encoding. Pure functions, no I/O.
 */
#ifndef GPUPV_PROTO_MANIFEST_H
#define GPUPV_PROTO_MANIFEST_H

#include "common/buf.h"
#include "common/hash.h"

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_FORMAT 1
#define MANIFEST_LIB -1 /* manifest_file.package for a library */

enum manifest_origin { ORIGIN_NONE, ORIGIN_INBOX, ORIGIN_PACKAGED };

struct manifest_file {
  char *path;
  uint64_t size;
  uint32_t mode; /* permission bits only */
  uint8_t sha256[HASH_LEN];
  int package;                 /* index into packages, or MANIFEST_LIB */
  enum manifest_origin origin; /* libraries only */
  size_t tag;                  /* the caller's, kept through sorting, never encoded */
};

enum manifest_sysdir { SYSDIR_SYSTEM32, SYSDIR_SYSWOW64 };
enum manifest_rule { RULE_OVERWRITE, RULE_WHEN_NEWER };

/* A file of a package that a Windows guest also places in a system folder. */
struct manifest_system_file {
  int package;                 /* index into packages */
  char *path;                  /* a file of that package */
  enum manifest_sysdir folder; /* System32, or SysWOW64 for the Wow64 lists */
  char *name;                  /* the file name there */
  enum manifest_rule rule;     /* when_newer: only over an older file (version, then time) */
};

struct manifest_package {
  char *name;
  char *version; /* may be NULL */
  char *vendor;  /* may be NULL */
};

struct manifest {
  struct manifest_package *packages;
  size_t npackages;
  struct manifest_file *files; /* grouped by package in package order, then the libraries */
  size_t nfiles;
  struct manifest_system_file *system; /* sorted by folder, then name */
  size_t nsystem;
  uint8_t id[HASH_LEN]; /* set by manifest_encode and manifest_decode */
};

struct manifest_limits {
  size_t max_files;
  size_t max_packages;
  size_t max_system_files;
  uint64_t max_file_size;
  uint64_t max_total;
  size_t max_bytes; /* of the encoding */
};

extern const struct manifest_limits MANIFEST_DEFAULT_LIMITS;

/* A content blob: one per distinct hash. */
struct manifest_blob {
  uint8_t sha256[HASH_LEN];
  uint64_t size;
  size_t file; /* index of the first file with this content */
};

/*
 * Sorts packages and files into canonical order, checks the result like manifest_decode does,
 * writes the canonical encoding to out and sets m->id. Errors: GPUPV_EMANIFEST, GPUPV_EPATH.
 */
int manifest_encode(struct manifest *m, struct buf *out, const char **ret_reason);
/*
 * Decodes and checks a canonical encoding from a peer. On success *ret is new (free with
 * manifest_free) and its id is the SHA-256 of the bytes. On failure *ret_reason, when given,
 * names the problem (a static string).
 */
int manifest_decode(const uint8_t *data, size_t len, const struct manifest_limits *limits,
                    struct manifest **ret, const char **ret_reason);
void manifest_free(struct manifest *m);
/* Frees the members of an embedded manifest. */
void manifest_done(struct manifest *m);

/*
 * The encoding for a guest that does not announce the system_files capability: the same
 * manifest without its system files, with its own id (equal to m->id when it has none). m must
 * have been encoded.
 */
int manifest_encode_without_system(const struct manifest *m, struct buf *out, uint8_t id[HASH_LEN]);

/* Appends a package or file, copying the strings. Returns 0 or UV_ENOMEM. */
int manifest_add_package(struct manifest *m, const char *name, const char *version,
                         const char *vendor, int *ret_index);
int manifest_add_file(struct manifest *m, int package, const char *path, uint64_t size,
                      uint32_t mode, const uint8_t sha256[HASH_LEN], enum manifest_origin origin);

int manifest_add_system_file(struct manifest *m, int package, const char *path,
                             enum manifest_sysdir folder, const char *name,
                             enum manifest_rule rule);
/* "System32" or "SysWOW64"; "overwrite" or "when_newer". */
const char *manifest_sysdir_name(enum manifest_sysdir d);
const char *manifest_rule_name(enum manifest_rule r);

/* The distinct blobs sorted by hash; *ret is new (caller frees). */
int manifest_blobs(const struct manifest *m, struct manifest_blob **ret, size_t *ret_count);
/* Finds a hash among sorted blobs; returns its index or -1. */
long manifest_blob_find(const struct manifest_blob *blobs, size_t count,
                        const uint8_t sha256[HASH_LEN]);
uint64_t manifest_total_size(const struct manifest *m);
/* The install path of a file relative to the wsl folder: "drivers/<pkg>/<path>" or "lib/<path>". */
char *manifest_file_dest(const struct manifest *m, const struct manifest_file *f);

#endif

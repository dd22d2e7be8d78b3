/*
 * Writes an offline bundle (proto/bundle.h) from what the host agent streams to `gpupv bundle`:
 * the header, the manifest's bytes, then each blob's bytes. Every byte is hashed on the way in:
 * the manifest must hash to the signed generation and each blob to its name, or the bundle is
 * not written. The archive is written to PATH.part and renamed to PATH once complete and on
 * disk, so PATH is never a partial bundle.
 */
#ifndef GPUPV_CLI_BUNDLE_WRITER_H
#define GPUPV_CLI_BUNDLE_WRITER_H

#include "common/hash.h"
#include "proto/bundle.h"

#include <stddef.h>
#include <stdint.h>

enum bundle_compression { BUNDLE_ZSTD, BUNDLE_GZIP, BUNDLE_NONE };

struct bundle_writer;

/* Starts PATH.part; agent_path (may be NULL) is added as agent/<its name> at the end. */
int bundle_writer_open(const char *path, enum bundle_compression compression,
                       const char *agent_path, struct bundle_writer **ret, char *err,
                       size_t err_size);
/* The header (its agent member is set here); the manifest's bytes come next. */
int bundle_writer_header(struct bundle_writer *w, const struct bundle_header *h, char *err,
                         size_t err_size);
/* A blob of size bytes comes next. */
int bundle_writer_blob(struct bundle_writer *w, const uint8_t sha256[HASH_LEN], uint64_t size,
                       char *err, size_t err_size);
/* Bytes of the manifest or of the current blob. */
int bundle_writer_data(struct bundle_writer *w, const uint8_t *data, size_t len, char *err,
                       size_t err_size);
/* Every blob was sent: adds the agent, closes, syncs and renames. */
int bundle_writer_finish(struct bundle_writer *w, uint64_t *ret_size, char *err, size_t err_size);
/* Drops PATH.part; NULL is fine. */
void bundle_writer_abort(struct bundle_writer *w);

#endif

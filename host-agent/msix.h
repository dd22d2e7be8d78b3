/*
 * Reads the lib/ folder of a WSL .msix (a zip), or of the x64 .msix inside a .msixbundle,
 * straight from the archive with libarchive: no temporary extraction.
 */
#ifndef GPUPV_HOST_MSIX_H
#define GPUPV_HOST_MSIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct msix_reader;

/* Called per regular file under lib/; name is relative to lib/, inner names the package
 * inside a bundle (NULL for a plain .msix). Read its data with msix_reader_read(r, ...). A non-zero
 * return stops the walk and is returned. */
typedef int (*msix_entry_cb)(void *ctx, struct msix_reader *r, const char *inner, const char *name,
                             uint64_t size);

/*
 * Walks lib/ of path. When path is a bundle, the inner package used is written to inner
 * (empty for a plain .msix). Returns 0, UV_ENOENT when there is no lib/ folder, or an error
 * with a message in err.
 */
int msix_foreach_lib(const char *path, msix_entry_cb cb, void *ctx, char *inner, size_t inner_size,
                     char *err, size_t err_size);
/* Opens lib/<name> of path (inside inner when non-empty) for reading. */
int msix_open(const char *path, const char *inner, const char *name, struct msix_reader **ret);
/* Reads up to n bytes; returns the count, 0 at the end, or a negative error. */
ssize_t msix_reader_read(struct msix_reader *r, void *buf, size_t n);
void msix_reader_close(struct msix_reader *r);

#endif

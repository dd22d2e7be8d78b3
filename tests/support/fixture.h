/*
 * A generator of driver-like source trees:
 *   DIR/store/<package>/...   DriverStore-like package folders with an INF (the first one with
 *                             CopyToVm lists, as display INFs have), sub-folders,
 *                             duplicate content under several names, empty files and
 *                             non-ASCII names
 *   DIR/inbox/                vendor WSL libraries (libcuda.so.1, nvidia-smi, ...)
 *   DIR/packaged/             WSL package libraries (libdxcore.so, libd3d12.so, ...)
 * Content is pseudo-random from a seed, so a tree is reproducible.
 */
#ifndef GPUPV_TESTS_FIXTURE_H
#define GPUPV_TESTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

struct fixture_spec {
  uint32_t seed;
  int packages;          /* 1 to 3 */
  int files_per_package; /* small files, besides the INF and the special ones */
  uint64_t small_max;    /* small files are 0..small_max bytes */
  int big_files;         /* heavy-tail files per package */
  uint64_t big_min, big_max;
};

/* Creates the tree; returns 0 or a negative error. */
int fixture_make(const char *dir, const struct fixture_spec *spec);
/* A driver update: rewrites every fifth file of the first package, adds a file, and renames the
 * second package folder (the first when there is one). Writes the new name to renamed. */
int fixture_bump(const char *dir, uint32_t seed, char *renamed, size_t renamed_size);
/* Writes size bytes of pseudo-random content stream id to path. */
int fixture_write_file(const char *path, uint64_t id, uint64_t size);
/* Writes DIR/packaged into a .msix (zip with lib/), and that .msix into a .msixbundle. */
int fixture_make_msix(const char *packaged_dir, const char *msix_path, const char *bundle_path);

#endif

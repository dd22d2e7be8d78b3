/*
 * Which package files a Windows guest also places in System32 or SysWOW64: the CopyToVm lists
 * of each package's INF (inf.h), or, when given, the --system-file list instead. Adds them to
 * the manifest being scanned. Pure: no I/O.
 */
#ifndef GPUPV_HOST_SYSTEM_FILES_H
#define GPUPV_HOST_SYSTEM_FILES_H

#include "host-agent/inf.h"
#include "proto/manifest.h"

#include <stddef.h>

/* One --system-file PACKAGE/PATH=System32/NAME[:when-newer|:overwrite]. */
struct system_file_spec {
  char package[256];
  char path[1024];
  enum manifest_sysdir folder;
  char name[256];
  enum manifest_rule rule;
};

/* Parses a --system-file value; on error *ret_reason says what is wrong. */
int system_file_parse(const char *text, struct system_file_spec *ret, const char **ret_reason);

/*
 * Adds the INF's list for package (already scanned into m) as system files: each source is
 * matched to a file of the package by path, ignoring case, else by a file name only one of its
 * files has. Sources that match no file are counted in *ret_missing (may be NULL) and left out;
 * a destination already taken in its folder keeps its first source.
 */
int system_files_from_inf(struct manifest *m, int package, const struct inf_copy *list, size_t n,
                          size_t *ret_missing);

/* Adds the --system-file list; a package or file it names that the scan did not find is an
 * error, with the spec in err. */
int system_files_from_specs(struct manifest *m, const struct system_file_spec *specs, size_t n,
                            char *err, size_t err_size);

#endif

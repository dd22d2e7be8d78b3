/*
 * A Windows guest's system files: the files a generation's drivers declare for VMs
 * (manifest.h, system_files), placed in System32 and SysWOW64 after the package switch. Each
 * is copied from the generation's verified package file to a temporary name beside its
 * destination, hashed there, and moved over the destination in one step; a destination in use
 * is replaced at the next restart instead (and reported). What a placed file replaced is kept,
 * so that a generation without that file (a rollback, a driver that dropped it) puts it back;
 * only files this agent placed are ever removed. The record is .gpupv/system-files.
 *
 * Plain file operations: the logic is the same everywhere (tested on Linux with folders of
 * the test's own); only the version resource of the "when newer" rule is Windows'. Blocks.
 */
#ifndef GPUPV_GUEST_SYSTEM_PLACE_H
#define GPUPV_GUEST_SYSTEM_PLACE_H

#include "proto/manifest.h"

#include <cjson/cJSON.h>
#include <stddef.h>

struct system_place {
  char folders[2][1024]; /* by enum manifest_sysdir: System32, SysWOW64 */
  char record[1300];     /* the record of what was placed */
  char saved[1300];      /* the files placed ones replaced: saved/<folder>/<name> */
};

/* Paths for a guest whose System32 is system32 and whose store folder is base. */
void system_place_init(struct system_place *p, const char *system32, const char *syswow64,
                       const char *base);
/*
 * Makes the system folders hold m's system files, taking content from the generation folder
 * gen_dir (its drivers/<package>/<path>), and puts back what placed files replaced that m
 * does not list. What could not be done, and the files that wait for a restart, are said in
 * note. 0, or the first error (the rest is still done).
 */
int system_place_apply(const struct system_place *p, const struct manifest *m, const char *gen_dir,
                       char *note, size_t note_size);
/* The files that wait for the next restart, as a new JSON array of "Folder\\name", or NULL
 * when there are none. */
cJSON *system_place_pending(const struct system_place *p);

#endif

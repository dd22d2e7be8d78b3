/*
 * The platform half of the store: how a generation is pointed at and made visible.
 * store-posix.c: ROOT/usr/lib/wsl with symbolic links (store.h). store-win.c:
 * ROOT\HostDriverStore\FileRepository with package folders moved into place. store.c holds
 * the rest: planning, staging, building generations and pruning.
 */
#ifndef GPUPV_GUEST_STORE_PLATFORM_H
#define GPUPV_GUEST_STORE_PLATFORM_H

#include "guest-agent/store.h"

/* The folder of generation id (shared by both halves). */
void store_generation_dir(const struct store *s, const uint8_t id[HASH_LEN], char *out,
                          size_t size);

/* The manifest generation id was installed with, or NULL when it cannot be read (store.c). */
struct manifest *store_generation_manifest(const struct store *s, const uint8_t id[HASH_LEN]);

/* Fills s->top, s->base and s->run_ldconfig for root (s->root is set). */
void store_platform_paths(struct store *s);
/* Reads the generation pointer name ("current" or "previous"): 1 with ret set, else 0. */
int store_platform_pointer(const struct store *s, const char *name, uint8_t ret[HASH_LEN]);
/* Whether this platform installs f: a Windows guest takes only the driver packages. */
int store_platform_wants(const struct manifest *m, const struct manifest_file *f);
/* Places content at dst: a hard link to src where it can share it, else a copy with mode
 * (store.c). Installed files are never modified. */
int store_place(const char *src, const char *dst, int mode);
/*
 * Makes the built generation id current, then the one that was current previous (previous
 * changes only once current has), and the visible tree follow. After a crash at any point,
 * store_platform_recover finishes or undoes the switch. *ret_committed says whether current
 * switched: an error after that is a warning, not a failed install. note names a problem
 * that did not fail the switch (a folder in use), or stays empty.
 */
int store_platform_switch(const struct store *s, const uint8_t id[HASH_LEN], int *ret_committed,
                          char *note, size_t note_size);
/* Finishes an interrupted switch. */
int store_platform_recover(const struct store *s);
/* After a switch (switched 1) or an install of the current generation (0): the loader
 * configuration where there is one, ld.wsl.conf put back when it differs, and ldconfig run
 * when anything changed. A problem is said in note (a warning: the switch stands); an error
 * return means the same. */
int store_platform_after_switch(const struct store *s, int switched, char *note, size_t note_size);

#endif

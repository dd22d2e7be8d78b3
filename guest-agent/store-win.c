/*
 * The Windows guest's layout. ROOT is System32 (GetSystemDirectory by default):
 *
 *   HostDriverStore\FileRepository\<package>\     what dxgkrnl reads: real folders
 *   HostDriverStore\.gpupv\current, previous      the generation ids, one line of hex each
 *   HostDriverStore\.gpupv\generations\<id>\      complete generations (drivers only)
 *   HostDriverStore\.gpupv\incoming\<package>\    the next packages, hard links into <id>
 *   HostDriverStore\.gpupv\trash\                 replaced folders, removed when not in use
 *
 * A switch builds incoming\ first, then writes `current` (the commit point), then moves each
 * package folder into FileRepository with one rename each, and old ones out to trash\. If the
 * agent stops in between, store_platform_recover finishes the moves before anything else
 * (incoming\ left with `current` naming another generation is dropped instead). Packages
 * whose content did not change stay where they are. A replaced folder whose files are in use
 * stays in trash\ and is reported; later installs retry removing it.
 */
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/path.h"
#include "guest-agent/store-platform.h"
#include "guest-agent/system-place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define HEX_LINE_LEN (HASH_HEX_LEN + 1)

void store_platform_paths(struct store *s) {
  snprintf(s->top, sizeof s->top, "%s/HostDriverStore", s->root);
  snprintf(s->base, sizeof s->base, "%s/.gpupv", s->top);
  s->run_ldconfig = 0;
}

/* Reads a file that starts with a generation id in hex: 1 with ret set, else 0. */
static int read_id_file(const char *path, uint8_t ret[HASH_LEN]) {
  struct buf text;
  buf_init(&text);
  int ok = fs_read_file(path, 256, &text) == 0 && text.len >= HASH_HEX_LEN;
  if (ok) {
    text.data[HASH_HEX_LEN] = 0;
    ok = hash_from_hex((const char *)text.data, ret) == 0;
  }
  buf_done(&text);
  return ok;
}

/* Writes id as one line of hex, atomically. */
static int write_id_file(const char *path, const uint8_t id[HASH_LEN]) {
  char line[HEX_LINE_LEN + 1];
  hash_to_hex(id, line);
  line[HASH_HEX_LEN] = '\n';
  line[HEX_LINE_LEN] = 0;
  return fs_write_atomic(path, line, HEX_LINE_LEN, 0644);
}

/* s->base/name */
static void base_path(const struct store *s, const char *name, char *out, size_t size) {
  snprintf(out, size, "%s/%s", s->base, name);
}

int store_platform_pointer(const struct store *s, const char *name, uint8_t ret[HASH_LEN]) {
  char path[1300];
  base_path(s, name, path, sizeof path);
  return read_id_file(path, ret);
}

static int write_pointer(const struct store *s, const char *name, const uint8_t id[HASH_LEN]) {
  char path[1300];
  base_path(s, name, path, sizeof path);
  return write_id_file(path, id);
}

int store_takes_system_files(void) {
  return 1; /* placed in System32 and SysWOW64 after each switch (system-place.h) */
}

/* Where the system files go: ROOT (System32) and the SysWOW64 beside it. */
static void system_place_for(const struct store *s, struct system_place *p) {
  char wow[1100];
  snprintf(wow, sizeof wow, "%s", s->root);
  char *slash = strrchr(wow, '/'), *back = strrchr(wow, '\\');
  char *cut = !slash || (back && back > slash) ? back : slash;
  if (cut)
    snprintf(cut + 1, sizeof wow - (size_t)(cut + 1 - wow), "SysWOW64");
  else
    snprintf(wow, sizeof wow, "SysWOW64");
  system_place_init(p, s->root, wow, s->base);
}

cJSON *store_reboot_files(const struct store *s) {
  struct system_place p;
  system_place_for(s, &p);
  return system_place_pending(&p);
}

int store_platform_wants(const struct manifest *m, const struct manifest_file *f) {
  (void)m;
  return f->package != MANIFEST_LIB; /* the WSL libraries are for Linux guests */
}

/* A digest of one package's file names and contents in m; 0 when m lacks the package. */
static int package_digest(const struct manifest *m, const char *name, uint8_t ret[HASH_LEN]) {
  int index = -1;
  for (size_t i = 0; m && i < m->npackages && index < 0; i++)
    if (strcmp(m->packages[i].name, name) == 0)
      index = (int)i;
  if (index < 0)
    return 0;
  struct hash_ctx ctx;
  if (hash_init(&ctx))
    return 0;
  for (size_t i = 0; i < m->nfiles; i++) {
    if (m->files[i].package != index)
      continue;
    hash_update(&ctx, m->files[i].path, strlen(m->files[i].path) + 1);
    hash_update(&ctx, m->files[i].sha256, HASH_LEN);
  }
  hash_final(&ctx, ret);
  hash_done(&ctx);
  return 1;
}

static int same_package(const struct manifest *a, const struct manifest *b, const char *name) {
  uint8_t da[HASH_LEN], db[HASH_LEN];
  return package_digest(a, name, da) && package_digest(b, name, db) &&
         memcmp(da, db, HASH_LEN) == 0;
}

/* Copies a tree as hard links (copies where a link fails). */
static int link_tree(const char *from, const char *to) {
  char **names;
  size_t n;
  int err = fs_mkdir(to, 0755);
  if (err || (err = fs_list_dir(from, &names, &n)))
    return err;
  for (size_t i = 0; !err && i < n; i++) {
    char *src = path_join(from, names[i]), *dst = path_join(to, names[i]);
    struct fs_info info;
    if (!src || !dst)
      err = UV_ENOMEM;
    else if (!(err = fs_info_path(src, &info)))
      err = info.type == FS_DIR ? link_tree(src, dst) : store_place(src, dst, 0644);
    free(src);
    free(dst);
  }
  fs_names_free(names, n);
  return err;
}

/* A unique place in trash\ for the folder name. */
static int trash_path(const struct store *s, const char *name, char *out, size_t size) {
  static unsigned counter;
  char trash[1300];
  base_path(s, "trash", trash, sizeof trash);
  snprintf(out, size, "%s/%s-%ld-%u", trash, name, (long)time(NULL), counter++);
  return fs_mkdir_p(trash, 0755);
}

/* Empties trash\; what is still in use stays, and note says so. */
static void empty_trash(const struct store *s, char *note, size_t note_size) {
  char trash[1300];
  base_path(s, "trash", trash, sizeof trash);
  if (!fs_exists(trash))
    return;
  char **names;
  size_t n, left = 0;
  if (fs_list_dir(trash, &names, &n))
    return;
  for (size_t i = 0; i < n; i++) {
    char *path = path_join(trash, names[i]);
    if (path && fs_remove_tree(path) != 0)
      left++;
    free(path);
  }
  fs_names_free(names, n);
  if (left && note)
    snprintf(note, note_size,
             "%zu replaced package folder(s) are still in use; they stay in %s and are removed "
             "after a later install",
             left, trash);
}

/* 1 while a switch waits for the next restart: the marker is there and incoming\ still holds
 * folders the restart is to move. */
int store_reboot_pending(const struct store *s) {
  char marker[1300], incoming[1300];
  base_path(s, "reboot-pending", marker, sizeof marker);
  base_path(s, "incoming", incoming, sizeof incoming);
  char **names;
  size_t n = 0;
  if (!fs_exists(marker) || !fs_is_dir(incoming) || fs_list_dir(incoming, &names, &n))
    return 0;
  fs_names_free(names, n);
  return n > 0;
}

/*
 * The visible package folders of a switch: what goes (replaced by incoming\, or dropped by the
 * new generation) and what comes. Moving them is all or nothing: every old folder is moved
 * aside first, and only then do the new ones move in, so the visible tree is never a mix.
 */
struct visible_moves {
  char **go;    /* visible folders to move aside */
  char **names; /* incoming\ entries, each to come to FileRepository\<name> */
  size_t ngo, nnames;
};

static void moves_done(struct visible_moves *mv) {
  for (size_t i = 0; i < mv->ngo; i++)
    free(mv->go[i]);
  free(mv->go);
  fs_names_free(mv->names, mv->nnames);
}

static int moves_add_go(struct visible_moves *mv, char *path) {
  char **more = realloc(mv->go, (mv->ngo + 1) * sizeof *more);
  if (!more) {
    free(path);
    return UV_ENOMEM;
  }
  mv->go = more;
  mv->go[mv->ngo++] = path;
  return 0;
}

static int moves_plan(const char *incoming, const char *repo, const struct manifest *new_m,
                      const struct manifest *old_m, struct visible_moves *mv) {
  int err = fs_is_dir(incoming) ? fs_list_dir(incoming, &mv->names, &mv->nnames) : 0;
  for (size_t i = 0; !err && i < mv->nnames; i++) {
    char *to = path_join(repo, mv->names[i]);
    if (!to)
      err = UV_ENOMEM;
    else if (fs_exists(to))
      err = moves_add_go(mv, to);
    else
      free(to);
  }
  /* the old generation's packages that the new one does not have */
  for (size_t i = 0; !err && old_m && i < old_m->npackages; i++) {
    uint8_t digest[HASH_LEN];
    if (package_digest(new_m, old_m->packages[i].name, digest))
      continue;
    char *path = path_join(repo, old_m->packages[i].name);
    if (!path)
      err = UV_ENOMEM;
    else if (fs_exists(path))
      err = moves_add_go(mv, path);
    else
      free(path);
  }
  return err;
}

/* Leaves the whole switch to the next restart: every move registered, in order. */
static int moves_at_restart(const struct store *s, const struct visible_moves *mv,
                            const char *incoming, const char *repo, const char *busy, char *note,
                            size_t note_size) {
  int err = 0;
  for (size_t i = 0; !err && i < mv->ngo; i++) {
    char dst[1600];
    const char *name = strrchr(mv->go[i], '/');
    if (!(err = trash_path(s, name ? name + 1 : mv->go[i], dst, sizeof dst)))
      err = fs_rename_at_restart(mv->go[i], dst);
  }
  for (size_t i = 0; !err && i < mv->nnames; i++) {
    char *from = path_join(incoming, mv->names[i]), *to = path_join(repo, mv->names[i]);
    err = from && to ? fs_rename_at_restart(from, to) : UV_ENOMEM;
    free(from);
    free(to);
  }
  char marker[1300];
  base_path(s, "reboot-pending", marker, sizeof marker);
  if (!err)
    err = fs_write_atomic(marker, "restart\n", 8, 0644);
  if (err)
    snprintf(note, note_size, "%s is in use, and the switch cannot wait for a restart: %s", busy,
             gpupv_strerror(err));
  else
    snprintf(note, note_size,
             "reboot required: %s is in use; the new driver folders replace the old ones at the "
             "next restart",
             busy);
  return err;
}

/*
 * Moves incoming\ into FileRepository for the current generation new_m, and the packages of the
 * previous one, old_m (may be NULL), that new_m lacks out. When a folder is in use, what was
 * moved goes back and the whole switch waits for the next restart. Each step is skipped when
 * already done, so this can run again after a crash.
 */
static int roll_forward(const struct store *s, const struct manifest *new_m,
                        const struct manifest *old_m, char *note, size_t note_size) {
  char incoming[1300], repo[1300];
  base_path(s, "incoming", incoming, sizeof incoming);
  snprintf(repo, sizeof repo, "%s/FileRepository", s->top);
  struct visible_moves mv;
  memset(&mv, 0, sizeof mv);
  int err = fs_mkdir_p(repo, 0755);
  if (!err)
    err = moves_plan(incoming, repo, new_m, old_m, &mv);
  char **aside = err ? NULL : calloc(mv.ngo + 1, sizeof *aside);
  if (!err && !aside)
    err = UV_ENOMEM;
  size_t moved = 0;
  /* 1. every old folder aside, or none */
  for (; !err && moved < mv.ngo; moved++) {
    const char *name = strrchr(mv.go[moved], '/');
    char dst[1600];
    if ((err = trash_path(s, name ? name + 1 : mv.go[moved], dst, sizeof dst)) ||
        (err = fs_rename(mv.go[moved], dst)))
      break;
    if (!(aside[moved] = strdup(dst)))
      err = UV_ENOMEM;
  }
  if (err && aside) {
    int back = 0;
    for (size_t i = moved; i-- > 0;)
      if (aside[i] && fs_rename(aside[i], mv.go[i]) != 0)
        back = UV_EIO;
    err = back ? back : moves_at_restart(s, &mv, incoming, repo, mv.go[moved], note, note_size);
    goto out;
  }
  /* 2. then every new folder in */
  for (size_t i = 0; !err && i < mv.nnames; i++) {
    char *from = path_join(incoming, mv.names[i]), *to = path_join(repo, mv.names[i]);
    err = from && to ? fs_rename(from, to) : UV_ENOMEM;
    free(from);
    free(to);
  }
  if (!err)
    err = fs_remove_tree(incoming);
out:
  for (size_t i = 0; aside && i < mv.ngo; i++)
    free(aside[i]);
  free(aside);
  moves_done(&mv);
  return err;
}

int store_platform_recover(const struct store *s) {
  char incoming[1300], marker[1300];
  uint8_t cur[HASH_LEN], want[HASH_LEN], prev[HASH_LEN];
  base_path(s, "incoming", incoming, sizeof incoming);
  base_path(s, "incoming.id", marker, sizeof marker);
  char pending[1300];
  base_path(s, "reboot-pending", pending, sizeof pending);
  if (store_reboot_pending(s))
    return 0; /* the moves are still registered for the next restart */
  if (fs_exists(pending)) {
    /* the restart has moved everything: the switch is complete */
    fs_remove_tree(incoming);
    fs_unlink(marker);
    return fs_unlink(pending);
  }
  if (!fs_is_dir(incoming))
    return 0;
  if (!read_id_file(marker, want) || !store_platform_pointer(s, "current", cur) ||
      memcmp(cur, want, HASH_LEN) != 0) {
    /* the switch never committed: drop what it prepared */
    int err = fs_remove_tree(incoming);
    fs_unlink(marker);
    return err;
  }
  struct manifest *new_m = store_generation_manifest(s, cur);
  struct manifest *old_m =
      store_platform_pointer(s, "previous", prev) ? store_generation_manifest(s, prev) : NULL;
  char note[512] = "";
  int err = roll_forward(s, new_m, old_m, note, sizeof note);
  if (*note)
    log_warn("%s", note);
  if (!err)
    fs_unlink(marker);
  manifest_free(new_m);
  manifest_free(old_m);
  return err;
}

int store_platform_switch(const struct store *s, const uint8_t id[HASH_LEN], int *ret_committed,
                          char *note, size_t note_size) {
  char incoming[1300], marker[1300], gen[1400], drivers[1500], repo[1300];
  uint8_t cur[HASH_LEN];
  *ret_committed = 0;
  int err = store_platform_recover(s);
  if (err)
    return err;
  if (store_reboot_pending(s))
    return GPUPV_EREBOOT; /* incoming\ belongs to the restart now */
  base_path(s, "incoming", incoming, sizeof incoming);
  base_path(s, "incoming.id", marker, sizeof marker);
  snprintf(repo, sizeof repo, "%s/FileRepository", s->top);
  store_generation_dir(s, id, gen, sizeof gen);
  snprintf(drivers, sizeof drivers, "%s/drivers", gen);
  int has_current = store_platform_pointer(s, "current", cur);
  struct manifest *new_m = store_generation_manifest(s, id);
  struct manifest *old_m = has_current ? store_generation_manifest(s, cur) : NULL;
  char **names = NULL;
  size_t n = 0;
  /* 1. prepare: hard-linked copies of the packages that change, beside the visible ones */
  if ((err = fs_remove_tree(incoming)) || (err = fs_mkdir_p(incoming, 0755)) ||
      (err = fs_list_dir(drivers, &names, &n)))
    goto out;
  for (size_t i = 0; !err && i < n; i++) {
    char *visible = path_join(repo, names[i]);
    int unchanged = visible && fs_is_dir(visible) && same_package(old_m, new_m, names[i]);
    free(visible);
    if (unchanged)
      continue;
    char *from = path_join(drivers, names[i]), *to = path_join(incoming, names[i]);
    err = from && to ? link_tree(from, to) : UV_ENOMEM;
    free(from);
    free(to);
  }
  if (err || (err = fs_sync(incoming)) || (err = write_id_file(marker, id)))
    goto out;
  /* 2. commit: from here on, recovery finishes the switch; previous follows current */
  if ((err = write_pointer(s, "current", id)))
    goto out;
  *ret_committed = 1;
  /* a previous pointer that cannot be written is said, but the folders move all the same:
   * the visible tree follows current */
  int prev_err = 0;
  if (has_current && memcmp(cur, id, HASH_LEN) != 0)
    prev_err = write_pointer(s, "previous", cur);
  /* 3. move the folders */
  if (!(err = roll_forward(s, new_m, old_m, note, note_size)))
    fs_unlink(marker);
  if (!err)
    err = prev_err;
  if (!*note)
    empty_trash(s, note, note_size);
out:
  fs_names_free(names, n);
  manifest_free(new_m);
  manifest_free(old_m);
  return err;
}

int store_platform_after_switch(const struct store *s, int switched, char *note, size_t note_size) {
  (void)switched; /* placed files are checked either way: one may have been changed since */
  uint8_t cur[HASH_LEN];
  if (store_reboot_pending(s) || !store_platform_pointer(s, "current", cur))
    return 0; /* the packages wait for a restart: their system files wait with them */
  struct manifest *m = store_generation_manifest(s, cur);
  if (!m)
    return 0;
  char gen[1400];
  store_generation_dir(s, cur, gen, sizeof gen);
  struct system_place p;
  system_place_for(s, &p);
  int err = system_place_apply(&p, m, gen, note, note_size);
  manifest_free(m);
  return err;
}

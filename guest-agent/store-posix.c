/*
 * The Linux guest's layout (store.h): drivers/ and lib/ are fixed symbolic links into
 * .gpupv/current, which one rename switches.
 */
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "guest-agent/store-platform.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <uv.h>

#define LD_CONF_TEXT "/usr/lib/wsl/lib\n"

extern char **environ;

void store_platform_paths(struct store *s) {
  const char *sep = strcmp(s->root, "/") == 0 ? "" : s->root;
  snprintf(s->top, sizeof s->top, "%s/usr/lib/wsl", sep);
  snprintf(s->base, sizeof s->base, "%s/.gpupv", s->top);
  s->run_ldconfig = strcmp(s->root, "/") == 0;
}

/* Reads a "generations/<hex>" link. */
int store_platform_pointer(const struct store *s, const char *name, uint8_t ret[HASH_LEN]) {
  char path[1300], target[256];
  snprintf(path, sizeof path, "%s/%s", s->base, name);
  if (fs_readlink(path, target, sizeof target))
    return 0;
  const char *slash = strrchr(target, '/');
  return slash && hash_from_hex(slash + 1, ret) == 0 ? 1 : 0;
}

cJSON *store_reboot_files(const struct store *s) {
  (void)s; /* no system files are placed here */
  return NULL;
}

int store_takes_system_files(void) {
  return 1; /* and ignores them: they are for Windows guests */
}

int store_platform_wants(const struct manifest *m, const struct manifest_file *f) {
  (void)m, (void)f;
  return 1;
}

int store_reboot_pending(const struct store *s) {
  (void)s; /* a switch is one rename: it never waits for a restart */
  return 0;
}

int store_platform_recover(const struct store *s) {
  (void)s; /* a switch is one rename: there is nothing to finish */
  return 0;
}

/* Makes ROOT/usr/lib/wsl/<name> the link into the current generation, moving a real folder
 * that an earlier manual install left there out of the way. */
static int ensure_visible_link(const struct store *s, const char *name) {
  char path[1300], target[256], want[64];
  snprintf(path, sizeof path, "%s/%s", s->top, name);
  snprintf(want, sizeof want, ".gpupv/current/%s", name);
  if (fs_readlink(path, target, sizeof target) == 0 && strcmp(target, want) == 0)
    return 0;
  if (fs_exists(path)) {
    char aside[1400];
    snprintf(aside, sizeof aside, "%s/legacy-%s-%ld", s->base, name, (long)time(NULL));
    log_warn("moving the existing %s aside to %s", path, aside);
    int err = fs_rename(path, aside);
    if (err)
      return err;
  }
  return fs_symlink_replace(want, path);
}

int store_platform_after_switch(const struct store *s, int switched, char *note, size_t note_size) {
  char dir[1100], path[1200];
  const char *root = strcmp(s->root, "/") == 0 ? "" : s->root;
  snprintf(dir, sizeof dir, "%s/etc/ld.so.conf.d", root);
  snprintf(path, sizeof path, "%s/ld.wsl.conf", dir);
  struct buf old;
  buf_init(&old);
  int same = fs_read_file(path, 4096, &old) == 0 && old.len == strlen(LD_CONF_TEXT) &&
             memcmp(old.data, LD_CONF_TEXT, old.len) == 0;
  buf_done(&old);
  int err = 0;
  if (!same && !(err = fs_mkdir_p(dir, 0755)))
    err = fs_write_atomic(path, LD_CONF_TEXT, strlen(LD_CONF_TEXT), 0644);
  if (err) {
    snprintf(note, note_size, "writing %s: %s", path, gpupv_strerror(err));
    return err;
  }
  if (!s->run_ldconfig || (same && !switched))
    return 0;
  pid_t pid;
  char *argv[] = {"ldconfig", NULL};
  if (posix_spawnp(&pid, "ldconfig", NULL, NULL, argv, environ) != 0) {
    snprintf(note, note_size, "cannot run ldconfig: %s", strerror(errno));
    return 0;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    snprintf(note, note_size, "ldconfig failed (status %d)", status);
  return 0;
}

int store_platform_switch(const struct store *s, const uint8_t id[HASH_LEN], int *ret_committed,
                          char *note, size_t note_size) {
  char hex[HASH_HEX_LEN + 1], target[128], link_path[1300];
  uint8_t cur[HASH_LEN];
  (void)note, (void)note_size;
  *ret_committed = 0;
  hash_to_hex(id, hex);
  snprintf(target, sizeof target, "generations/%s", hex);
  int had = store_platform_pointer(s, "current", cur) && memcmp(cur, id, HASH_LEN) != 0;
  int err = 0;
  /* the visible links must exist before the commit, so that the commit is all it takes */
  if ((err = ensure_visible_link(s, "drivers")) || (err = ensure_visible_link(s, "lib")))
    return err;
  snprintf(link_path, sizeof link_path, "%s/current", s->base);
  /* The one atomic step, the commit: both drivers/ and lib/ follow this link. */
  if ((err = fs_symlink_replace(target, link_path)))
    return err;
  *ret_committed = 1;
  if ((err = fs_sync_dir(s->base)))
    return err;
  if (had) {
    char cur_hex[HASH_HEX_LEN + 1], cur_target[128];
    hash_to_hex(cur, cur_hex);
    snprintf(cur_target, sizeof cur_target, "generations/%s", cur_hex);
    snprintf(link_path, sizeof link_path, "%s/previous", s->base);
    if ((err = fs_symlink_replace(cur_target, link_path)) || (err = fs_sync_dir(s->base)))
      return err;
  }
  return fs_sync_dir(s->top);
}

#include "guest-agent/system-place.h"

#include "common/err.h"
#include "common/file-version.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/path.h"
#include "proto/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define RECORD_MAX_BYTES (4u << 20)
#define TMP_SUFFIX ".gpupv-new"

/* One file this agent placed, or is placing. */
struct placed {
  enum manifest_sysdir folder;
  char name[256];
  uint8_t sha256[HASH_LEN]; /* the content it placed */
  int saved;                /* what it replaced is in saved/ */
  int pending;              /* the move waits for the next restart */
  int listed;               /* in the generation being applied */
};

struct placements {
  struct placed *items;
  size_t n;
};

void system_place_init(struct system_place *p, const char *system32, const char *syswow64,
                       const char *base) {
  snprintf(p->folders[SYSDIR_SYSTEM32], sizeof p->folders[0], "%s", system32);
  snprintf(p->folders[SYSDIR_SYSWOW64], sizeof p->folders[0], "%s", syswow64);
  snprintf(p->record, sizeof p->record, "%s/system-files", base);
  snprintf(p->saved, sizeof p->saved, "%s/system-saved", base);
}

/* ---- the record ---- */

static struct placed *add(struct placements *ps, enum manifest_sysdir folder, const char *name) {
  struct placed *more = realloc(ps->items, (ps->n + 1) * sizeof *more);
  if (!more)
    return NULL;
  ps->items = more;
  struct placed *r = &ps->items[ps->n++];
  memset(r, 0, sizeof *r);
  r->folder = folder;
  snprintf(r->name, sizeof r->name, "%s", name);
  return r;
}

static struct placed *find(struct placements *ps, enum manifest_sysdir folder, const char *name) {
  for (size_t i = 0; i < ps->n; i++)
    if (ps->items[i].folder == folder && strcmp(ps->items[i].name, name) == 0)
      return &ps->items[i];
  return NULL;
}

/* Reads the record; a missing one is empty. GPUPV_EFIELD for one that cannot be read: then
 * nothing is touched, since it is what says which files are ours. */
static int load(const struct system_place *p, struct placements *ret) {
  memset(ret, 0, sizeof *ret);
  struct buf text;
  buf_init(&text);
  int err = fs_read_file(p->record, RECORD_MAX_BYTES, &text);
  if (err == UV_ENOENT) {
    buf_done(&text);
    return 0;
  }
  cJSON *root = err ? NULL : cJSON_ParseWithLength((const char *)text.data, text.len);
  const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files"), *f;
  err = err ? err : cJSON_IsArray(files) ? 0 : GPUPV_EFIELD;
  const cJSON *list = err ? NULL : files;
  cJSON_ArrayForEach(f, list) {
    const char *folder, *name, *reason;
    uint8_t sha[HASH_LEN];
    int saved, pending;
    if (msg_get_str(f, "folder", 16, &folder) || msg_get_str(f, "name", 255, &name) ||
        msg_get_hash(f, "sha256", sha) || msg_get_bool(f, "saved", &saved) ||
        msg_get_bool(f, "pending", &pending) || path_check_component(name, &reason)) {
      err = GPUPV_EFIELD; /* a name that is not one file name would lead out of its folder */
      break;
    }
    struct placed *r =
        add(ret, strcmp(folder, "SysWOW64") == 0 ? SYSDIR_SYSWOW64 : SYSDIR_SYSTEM32, name);
    if (!r) {
      err = UV_ENOMEM;
      break;
    }
    memcpy(r->sha256, sha, HASH_LEN);
    r->saved = saved;
    r->pending = pending;
  }
  cJSON_Delete(root);
  buf_done(&text);
  return err;
}

static int save(const struct system_place *p, const struct placements *ps) {
  cJSON *root = cJSON_CreateObject();
  cJSON *files = root ? cJSON_AddArrayToObject(root, "files") : NULL;
  for (size_t i = 0; files && i < ps->n; i++) {
    const struct placed *r = &ps->items[i];
    cJSON *f = cJSON_CreateObject();
    cJSON_AddItemToArray(files, f);
    cJSON_AddStringToObject(f, "folder", manifest_sysdir_name(r->folder));
    cJSON_AddStringToObject(f, "name", r->name);
    msg_add_hash(f, "sha256", r->sha256);
    cJSON_AddBoolToObject(f, "saved", r->saved);
    cJSON_AddBoolToObject(f, "pending", r->pending);
  }
  char *text = files ? cJSON_PrintUnformatted(root) : NULL;
  int err = text ? fs_write_atomic(p->record, text, strlen(text), 0644) : UV_ENOMEM;
  cJSON_free(text);
  cJSON_Delete(root);
  return err;
}

/* ---- files ---- */

static int hash_path(const char *path, uint8_t ret[HASH_LEN]) {
  int fd;
  int err = fs_open_read(path, &fd);
  if (err)
    return err;
  uint64_t n;
  err = hash_fd(fd, ret, &n);
  fs_close(fd);
  return err;
}

static int in_use(int err) {
  return err == UV_EBUSY || err == UV_EPERM || err == UV_EACCES;
}

/* Appends a sentence to note. */
static void say(char *note, size_t size, const char *fmt, ...) GPUPV_PRINTF(3, 4);
static void say(char *note, size_t size, const char *fmt, ...) {
  size_t len = strlen(note);
  if (len + 3 >= size)
    return;
  if (len)
    len += (size_t)snprintf(note + len, size - len, "; ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(note + len, size - len, fmt, ap);
  va_end(ap);
}

/* Moves from over to now, or at the next restart when to is in use (*ret_later set). */
static int move_over(const char *from, const char *to, int *ret_later) {
  *ret_later = 0;
  int err = fs_rename(from, to);
  if (in_use(err) && fs_replace_at_restart(from, to) == 0) {
    *ret_later = 1;
    err = 0;
  }
  return err;
}

/* 1 when the file at dest has a later version resource than src ("when newer"). The manifest
 * carries no write times, so files without versions are not compared by them: ours goes. */
static int newer_there(const char *dest, const char *src) {
  uint64_t have, ours;
  return file_version(dest, &have) == 0 && file_version(src, &ours) == 0 && have > ours;
}

/* The package file a system file names, or NULL. */
static const struct manifest_file *source_file(const struct manifest *m,
                                               const struct manifest_system_file *s) {
  for (size_t i = 0; i < m->nfiles; i++)
    if (m->files[i].package == s->package && strcmp(m->files[i].path, s->path) == 0)
      return &m->files[i];
  return NULL;
}

/* Places one system file; r is its record (new or from an earlier generation). */
static int place(const struct system_place *p, const struct manifest *m,
                 const struct manifest_system_file *s, const char *gen_dir, struct placed *r,
                 char *note, size_t note_size) {
  const struct manifest_file *f = source_file(m, s);
  if (!f)
    return GPUPV_EMANIFEST; /* the decoder checked this */
  char src[3000], dest[1400], tmp[1500], saved[1700];
  snprintf(src, sizeof src, "%s/drivers/%s/%s", gen_dir, m->packages[s->package].name, s->path);
  snprintf(dest, sizeof dest, "%s/%s", p->folders[s->folder], s->name);
  snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, dest);
  uint8_t have[HASH_LEN];
  int there = hash_path(dest, have) == 0;
  if (there && memcmp(have, f->sha256, HASH_LEN) == 0) {
    memcpy(r->sha256, f->sha256, HASH_LEN); /* in place (a restart finished the move) */
    r->pending = 0;
    return 0;
  }
  int ours = there && memcmp(have, r->sha256, HASH_LEN) == 0; /* what an earlier one placed */
  if (there && !ours && s->rule == RULE_WHEN_NEWER && newer_there(dest, src)) {
    say(note, note_size, "kept the newer %s\\%s", manifest_sysdir_name(s->folder), s->name);
    return 0;
  }
  int err = 0;
  if (there && !ours && !r->saved) {
    /* what was there before us, kept for a generation without this file */
    snprintf(saved, sizeof saved, "%s/%s", p->saved, manifest_sysdir_name(s->folder));
    if (!(err = fs_mkdir_p(saved, 0755))) {
      snprintf(saved, sizeof saved, "%s/%s/%s", p->saved, manifest_sysdir_name(s->folder), s->name);
      fs_unlink(saved);
      err = fs_copy_file(dest, saved, 0644);
    }
    if (err || (err = fs_sync(saved)))
      return err;
    r->saved = 1;
  }
  /* beside the destination, verified there, then one move over it */
  uint8_t got[HASH_LEN];
  int later;
  fs_unlink(tmp);
  if ((err = fs_copy_file(src, tmp, 0644)) || (err = fs_sync(tmp)) || (err = hash_path(tmp, got)))
    goto out;
  if (memcmp(got, f->sha256, HASH_LEN) != 0) {
    err = GPUPV_EHASH;
    goto out;
  }
  if ((err = move_over(tmp, dest, &later)))
    goto out;
  memcpy(r->sha256, f->sha256, HASH_LEN);
  r->pending = later;
out:
  if (err)
    fs_unlink(tmp);
  return err;
}

/* A file an earlier generation placed that this one does not list: what it replaced goes
 * back, or, when it replaced nothing, it goes. A file changed since by someone else stays. */
static int unplace(const struct system_place *p, const struct placed *r, char *note,
                   size_t note_size) {
  char dest[1400], saved[1700];
  snprintf(dest, sizeof dest, "%s/%s", p->folders[r->folder], r->name);
  snprintf(saved, sizeof saved, "%s/%s/%s", p->saved, manifest_sysdir_name(r->folder), r->name);
  uint8_t have[HASH_LEN];
  int there = hash_path(dest, have) == 0;
  if (!there || memcmp(have, r->sha256, HASH_LEN) != 0) {
    if (r->saved)
      fs_unlink(saved); /* not ours any more: what we kept is not wanted back */
    return 0;
  }
  int later = 0, err = r->saved ? move_over(saved, dest, &later) : fs_unlink(dest);
  if (later)
    say(note, note_size, "%s\\%s is put back at the next restart", manifest_sysdir_name(r->folder),
        r->name);
  if (in_use(err) && !r->saved)
    say(note, note_size, "%s\\%s is in use and stays", manifest_sysdir_name(r->folder), r->name);
  return in_use(err) ? 0 : err;
}

int system_place_apply(const struct system_place *p, const struct manifest *m, const char *gen_dir,
                       char *note, size_t note_size) {
  struct placements ps;
  int err = load(p, &ps);
  if (err) {
    say(note, note_size, "the record of placed system files (%s) cannot be read: %s; left as is",
        p->record, gpupv_strerror(err));
    free(ps.items);
    return err;
  }
  int first = 0;
  for (size_t i = 0; i < m->nsystem; i++) {
    const struct manifest_system_file *s = &m->system[i];
    struct placed *r = find(&ps, s->folder, s->name);
    if (!r && !(r = add(&ps, s->folder, s->name))) {
      err = UV_ENOMEM;
      break;
    }
    r->listed = 1;
    int e = place(p, m, s, gen_dir, r, note, note_size);
    if (e) {
      say(note, note_size, "%s\\%s: %s", manifest_sysdir_name(s->folder), s->name,
          gpupv_strerror(e));
      if (!first)
        first = e;
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < ps.n; i++) {
    struct placed *r = &ps.items[i];
    int e = r->listed ? 0 : unplace(p, r, note, note_size);
    if (e && !first)
      first = e;
    if (r->listed || e) /* a file that could not be put back stays on the record */
      ps.items[kept++] = *r;
  }
  ps.n = kept;
  int pending = 0;
  for (size_t i = 0; i < ps.n; i++)
    pending += ps.items[i].pending;
  if (pending)
    say(note, note_size, "reboot required: %d system file%s in use, replaced at the next restart",
        pending, pending == 1 ? " is" : "s are");
  int save_err = save(p, &ps);
  free(ps.items);
  return first ? first : err ? err : save_err;
}

cJSON *system_place_pending(const struct system_place *p) {
  struct placements ps;
  cJSON *list = NULL;
  if (load(p, &ps) == 0) {
    for (size_t i = 0; i < ps.n; i++) {
      if (!ps.items[i].pending)
        continue;
      char name[300];
      snprintf(name, sizeof name, "%s\\%s", manifest_sysdir_name(ps.items[i].folder),
               ps.items[i].name);
      if (!list)
        list = cJSON_CreateArray();
      cJSON_AddItemToArray(list, cJSON_CreateString(name));
    }
  }
  free(ps.items);
  return list;
}

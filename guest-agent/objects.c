/* The guest's object store and the records that prove its objects unchanged (objects.h). */
#include "guest-agent/objects.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/path.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define RECORDS_HEADER "gpupv-records 1\n"
#define RECORDS_MAX (64u << 20)
#define EXEC_SUFFIX ".x"
#define PART_SUFFIX ".part"

/* --- the record set --- */

static size_t slot_start(const uint8_t sha256[HASH_LEN], int exec, size_t cap) {
  uint64_t h;
  memcpy(&h, sha256, sizeof h);
  return (size_t)(h ^ (uint64_t)exec) & (cap - 1);
}

void records_init(struct object_records *set) {
  memset(set, 0, sizeof *set);
}

void records_done(struct object_records *set) {
  free(set->slots);
  records_init(set);
}

static struct object_slot *find_slot(const struct object_records *set,
                                     const uint8_t sha256[HASH_LEN], int exec, int for_insert) {
  if (!set->cap)
    return NULL;
  struct object_slot *free_slot = NULL;
  for (size_t i = slot_start(sha256, exec, set->cap), k = 0; k < set->cap;
       i = (i + 1) & (set->cap - 1), k++) {
    struct object_slot *sl = &set->slots[i];
    if (sl->used == 0)
      return for_insert ? (free_slot ? free_slot : sl) : NULL;
    if (sl->used == 2) {
      if (!free_slot)
        free_slot = sl;
      continue;
    }
    if (sl->r.exec == exec && memcmp(sl->r.sha256, sha256, HASH_LEN) == 0)
      return sl;
  }
  return for_insert ? free_slot : NULL;
}

static int grow(struct object_records *set) {
  size_t cap = set->cap ? set->cap * 2 : 256;
  struct object_slot *old = set->slots, *fresh = calloc(cap, sizeof *fresh);
  size_t old_cap = set->cap;
  if (!fresh)
    return UV_ENOMEM;
  set->slots = fresh;
  set->cap = cap;
  set->n = 0;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i].used != 1)
      continue;
    struct object_slot *sl = find_slot(set, old[i].r.sha256, old[i].r.exec, 1);
    *sl = old[i];
    set->n++;
  }
  free(old);
  return 0;
}

int records_put(struct object_records *set, const struct object_record *r) {
  if ((set->n + 1) * 2 > set->cap) {
    int err = grow(set);
    if (err)
      return err;
  }
  struct object_slot *sl = find_slot(set, r->sha256, r->exec, 1);
  if (sl->used != 1)
    set->n++;
  sl->used = 1;
  sl->r = *r;
  return 0;
}

struct object_record *records_get(struct object_records *set, const uint8_t sha256[HASH_LEN],
                                  int exec) {
  struct object_slot *sl = find_slot(set, sha256, exec, 0);
  return sl ? &sl->r : NULL;
}

static void records_drop(struct object_records *set, const uint8_t sha256[HASH_LEN], int exec) {
  struct object_slot *sl = find_slot(set, sha256, exec, 0);
  if (sl) {
    sl->used = 2;
    set->n--;
  }
}

void records_from_info(const struct fs_info *info, const uint8_t sha256[HASH_LEN], int exec,
                       struct object_record *ret) {
  uint8_t sha[HASH_LEN]; /* sha256 may be ret's own */
  memcpy(sha, sha256, HASH_LEN);
  memset(ret, 0, sizeof *ret);
  memcpy(ret->sha256, sha, HASH_LEN);
  ret->exec = (uint8_t)(exec != 0);
  ret->size = info->size;
  ret->id = info->id;
  ret->mtime_ns = info->mtime_ns;
  ret->ctime_ns = info->ctime_ns;
}

static int record_matches(const struct object_record *r, const struct fs_info *info) {
  return info->type == FS_FILE && r->size == info->size && r->id == info->id &&
         r->mtime_ns == info->mtime_ns && r->ctime_ns == info->ctime_ns;
}

/* --- the records file: a header, then "<hex>[.x] size id mtime ctime" a line --- */

static void parse_records(struct object_records *set, char *text) {
  char *line = text + strlen(RECORDS_HEADER);
  while (*line) {
    char *end = strchr(line, '\n');
    if (!end)
      break; /* a cut-off last line is no record */
    *end = 0;
    char hex[HASH_HEX_LEN + 1], suffix[4] = "";
    struct object_record r;
    memset(&r, 0, sizeof r);
    int exec = 0;
    if (strlen(line) > HASH_HEX_LEN) {
      memcpy(hex, line, HASH_HEX_LEN);
      hex[HASH_HEX_LEN] = 0;
      exec = strncmp(line + HASH_HEX_LEN, EXEC_SUFFIX " ", 3) == 0;
      const char *rest = line + HASH_HEX_LEN + (exec ? 2 : 0);
      if (hash_from_hex(hex, r.sha256) == 0 &&
          sscanf(rest, " %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 "%3s", &r.size, &r.id,
                 &r.mtime_ns, &r.ctime_ns, suffix) == 4) {
        r.exec = (uint8_t)exec;
        if (records_put(set, &r))
          break;
      }
    }
    line = end + 1;
  }
}

int objects_open(struct objects *o, const char *base, const struct object_records *fresh) {
  memset(o, 0, sizeof *o);
  records_init(&o->rec);
  int n1 = snprintf(o->dir, sizeof o->dir, "%s/objects", base);
  int n2 = snprintf(o->records_path, sizeof o->records_path, "%s/records", base);
  if (n1 < 0 || (size_t)n1 >= sizeof o->dir || n2 < 0 || (size_t)n2 >= sizeof o->records_path)
    return GPUPV_ELIMIT;
  struct buf text;
  buf_init(&text);
  int err = fs_read_file(o->records_path, RECORDS_MAX, &text);
  if (!err && buf_append(&text, "", 1) == 0 &&
      strncmp((char *)text.data, RECORDS_HEADER, strlen(RECORDS_HEADER)) == 0)
    parse_records(&o->rec, (char *)text.data);
  else if (err && err != UV_ENOENT)
    log_warn("reading %s: %s; every object will be hashed again", o->records_path,
             gpupv_strerror(err));
  buf_done(&text);
  for (size_t i = 0; fresh && i < fresh->cap; i++) {
    const struct object_slot *sl = &fresh->slots[i];
    if (sl->used == 1 && (err = records_put(&o->rec, &sl->r)))
      return err;
    o->dirty |= sl->used == 1;
  }
  return 0;
}

void objects_close(struct objects *o) {
  records_done(&o->rec);
}

void objects_path(const struct objects *o, const uint8_t sha256[HASH_LEN], int exec, char *out,
                  size_t size) {
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(sha256, hex);
  snprintf(out, size, "%s/%s%s", o->dir, hex, exec ? EXEC_SUFFIX : "");
}

static int object_mode(int exec) {
  return exec ? OBJECT_MODE_EXEC : OBJECT_MODE;
}

/* Hashes the object at path: 1 when it holds size bytes of sha256. */
static int holds(const char *path, const uint8_t sha256[HASH_LEN], uint64_t size) {
  int fd;
  if (fs_open_read(path, &fd))
    return 0;
  uint8_t got[HASH_LEN];
  uint64_t n = 0;
  int ok = hash_fd(fd, got, &n) == 0 && n == size && memcmp(got, sha256, HASH_LEN) == 0;
  fs_close(fd);
  return ok;
}

int objects_check(struct objects *o, const uint8_t sha256[HASH_LEN], int exec, uint64_t size) {
  char path[1400];
  objects_path(o, sha256, exec, path, sizeof path);
  struct fs_info info;
  if (fs_info_path(path, &info)) {
    o->dirty |= records_get(&o->rec, sha256, exec) != NULL;
    records_drop(&o->rec, sha256, exec);
    return 0;
  }
  struct object_record *r = records_get(&o->rec, sha256, exec);
  if (r && r->size == size && record_matches(r, &info))
    return 1;
  int ok = info.type == FS_FILE && info.size == size && holds(path, sha256, size);
  if (ok && (int)info.mode != object_mode(exec) && fs_chmod(path, object_mode(exec)) == 0)
    ok = fs_info_path(path, &info) == 0;
  if (ok) {
    struct object_record fresh;
    records_from_info(&info, sha256, exec, &fresh);
    o->dirty = 1;
    return records_put(&o->rec, &fresh) == 0;
  }
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(sha256, hex);
  log_warn("object %.16s%s does not hold its content any more; fetching it again", hex,
           exec ? EXEC_SUFFIX : "");
  records_drop(&o->rec, sha256, exec);
  o->dirty = 1;
  fs_unlink(path);
  return 0;
}

int objects_have(struct objects *o, const uint8_t sha256[HASH_LEN], uint64_t size) {
  return objects_check(o, sha256, 0, size) || objects_check(o, sha256, 1, size);
}

int objects_provide(struct objects *o, const uint8_t sha256[HASH_LEN], int exec, uint64_t size) {
  if (objects_check(o, sha256, exec, size))
    return 0;
  if (!objects_check(o, sha256, !exec, size))
    return UV_ENOENT;
  char other[1400], path[1400], part[1500];
  objects_path(o, sha256, !exec, other, sizeof other);
  objects_path(o, sha256, exec, path, sizeof path);
  snprintf(part, sizeof part, "%s" PART_SUFFIX, path);
  fs_unlink(part);
  int err = fs_copy_file(other, part, object_mode(exec));
  if (!err)
    err = fs_rename(part, path);
  if (err) {
    fs_unlink(part);
    return err;
  }
  /* the copy has no record yet, so this hashes it */
  return objects_check(o, sha256, exec, size) ? 0 : GPUPV_EHASH;
}

/* Calls fn with each record and what is at its object's path now (err from the lstat). */
static void each_record(struct objects *o, void (*fn)(struct objects *o, struct object_slot *sl,
                                                      int err, const struct fs_info *info)) {
  for (size_t i = 0; i < o->rec.cap; i++) {
    struct object_slot *sl = &o->rec.slots[i];
    if (sl->used != 1)
      continue;
    char path[1400];
    struct fs_info info;
    objects_path(o, sl->r.sha256, sl->r.exec, path, sizeof path);
    fn(o, sl, fs_info_path(path, &info), &info);
  }
}

static void hold_one(struct objects *o, struct object_slot *sl, int err,
                     const struct fs_info *info) {
  (void)o;
  sl->r.held = !err && record_matches(&sl->r, info);
}

static void settle_one(struct objects *o, struct object_slot *sl, int err,
                       const struct fs_info *info) {
  if (err) {
    records_drop(&o->rec, sl->r.sha256, sl->r.exec);
    o->dirty = 1;
    return;
  }
  if (sl->r.held && !record_matches(&sl->r, info)) {
    records_from_info(info, sl->r.sha256, sl->r.exec, &sl->r);
    o->dirty = 1;
  }
  sl->r.held = 0;
}

void objects_hold(struct objects *o) {
  each_record(o, hold_one);
}

void objects_settle(struct objects *o) {
  each_record(o, settle_one);
}

/* Splits an object file name into its hash and kind; 0 for a name that is not one. */
static int parse_name(const char *name, uint8_t sha256[HASH_LEN], int *ret_exec, int *ret_part) {
  char hex[HASH_HEX_LEN + 1];
  if (strlen(name) < HASH_HEX_LEN)
    return 0;
  memcpy(hex, name, HASH_HEX_LEN);
  hex[HASH_HEX_LEN] = 0;
  const char *rest = name + HASH_HEX_LEN;
  *ret_exec = strncmp(rest, EXEC_SUFFIX, 2) == 0;
  if (*ret_exec)
    rest += 2;
  *ret_part = strcmp(rest, PART_SUFFIX) == 0;
  return hash_from_hex(hex, sha256) == 0 && (*ret_part || !*rest);
}

int objects_collect(struct objects *o, int (*keep)(void *ctx, const uint8_t sha256[HASH_LEN]),
                    void *ctx) {
  char **names;
  size_t n;
  int err = fs_list_dir(o->dir, &names, &n);
  if (err)
    return err == UV_ENOENT ? 0 : err;
  for (size_t i = 0; i < n; i++) {
    uint8_t sha[HASH_LEN];
    int exec = 0, part = 0;
    int known = parse_name(names[i], sha, &exec, &part);
    if (known && !part && keep(ctx, sha))
      continue;
    char *path = path_join(o->dir, names[i]);
    int gone = path ? fs_remove_tree(path) : UV_ENOMEM;
    if (!gone && known && !part) {
      records_drop(&o->rec, sha, exec);
      o->dirty = 1;
    }
    if (gone && !err)
      err = gone;
    free(path);
  }
  fs_names_free(names, n);
  return err;
}

int objects_save(struct objects *o) {
  struct buf text;
  buf_init(&text);
  int err = buf_append(&text, RECORDS_HEADER, strlen(RECORDS_HEADER));
  for (size_t i = 0; !err && i < o->rec.cap; i++) {
    const struct object_slot *sl = &o->rec.slots[i];
    if (sl->used != 1)
      continue;
    char hex[HASH_HEX_LEN + 1], line[256];
    hash_to_hex(sl->r.sha256, hex);
    int len = snprintf(line, sizeof line, "%s%s %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 "\n",
                       hex, sl->r.exec ? EXEC_SUFFIX : "", sl->r.size, sl->r.id, sl->r.mtime_ns,
                       sl->r.ctime_ns);
    err = buf_append(&text, line, (size_t)len);
  }
  if (!err)
    err = fs_write_atomic(o->records_path, text.data, text.len, 0644);
  buf_done(&text);
  if (!err)
    o->dirty = 0;
  return err;
}

/*
 * The guest's content-addressed object store, .gpupv/objects. Every installed file is a hard
 * link to one object, named by its SHA-256: "<hex>" read-only, "<hex>.x" read-only and
 * executable (one inode has one mode, so the two are separate objects).
 *
 * Each object has a record of what proves it unchanged since it was verified: size, file id,
 * mtime and ctime (Windows: ChangeTime). ctime moves on every write, so an in-place edit of an
 * installed file, which is the object itself, always breaks its record. An object whose record
 * does not match is hashed again before it is reused, and removed when it no longer holds its
 * content. Records are saved in .gpupv/records, only after the objects they describe were
 * synced: an object written before a power cut has no record and is hashed again.
 *
 * Our own links and unlinks move ctime too: objects_hold before them and objects_settle after
 * renew the records that matched before. Blocking; one thread at a time.
 */
#ifndef GPUPV_GUEST_OBJECTS_H
#define GPUPV_GUEST_OBJECTS_H

#include "common/fs.h"
#include "common/hash.h"

#include <stddef.h>
#include <stdint.h>

/* The modes of the two objects of one content. */
#define OBJECT_MODE 0444
#define OBJECT_MODE_EXEC 0555

struct object_record {
  uint8_t sha256[HASH_LEN];
  uint8_t exec;  /* the executable object */
  uint8_t held;  /* matched at objects_hold */
  uint64_t size; /* the rest as fs_info says */
  uint64_t id;
  int64_t mtime_ns;
  int64_t ctime_ns;
};

/* A set of records, one per object: open addressing on the hash, at most half full. */
struct object_slot {
  struct object_record r;
  int used; /* 1 occupied, 2 removed (skipped by lookups, reused by inserts) */
};

struct object_records {
  struct object_slot *slots;
  size_t n, cap;
};

void records_init(struct object_records *set);
void records_done(struct object_records *set);
/* Adds r, or replaces the record of the same object. */
int records_put(struct object_records *set, const struct object_record *r);
/* The record of (sha256, exec), or NULL. */
struct object_record *records_get(struct object_records *set, const uint8_t sha256[HASH_LEN],
                                  int exec);
/* Fills *ret for the object (sha256, exec) that info describes. */
void records_from_info(const struct fs_info *info, const uint8_t sha256[HASH_LEN], int exec,
                       struct object_record *ret);

struct objects {
  char dir[1300];
  char records_path[1300];
  struct object_records rec;
  int dirty; /* records changed since they were read or saved */
};

/* Opens the store under base (.gpupv): its saved records, then fresh (objects received and
 * hashed by this process; NULL is fine). Creates nothing. */
int objects_open(struct objects *o, const char *base, const struct object_records *fresh);
void objects_close(struct objects *o);
/* The path of object (sha256, exec). */
void objects_path(const struct objects *o, const uint8_t sha256[HASH_LEN], int exec, char *out,
                  size_t size);
/* 1 when the object is there and holds size bytes of its content: its record matches, or a
 * new hash proves it (the record is renewed). A bad object is removed. */
int objects_check(struct objects *o, const uint8_t sha256[HASH_LEN], int exec, uint64_t size);
/* 1 when either object of sha256 holds its content. */
int objects_have(struct objects *o, const uint8_t sha256[HASH_LEN], uint64_t size);
/*
 * Makes sure object (sha256, exec) holds its content, making it from the other one (a copy,
 * hashed as it is checked) when only that is there. 0, or UV_ENOENT when neither holds it.
 */
int objects_provide(struct objects *o, const uint8_t sha256[HASH_LEN], int exec, uint64_t size);
/* Marks the records that match their objects now, before our own links or unlinks. */
void objects_hold(struct objects *o);
/* Renews the marked records after those links and unlinks, and drops the records of objects
 * that are gone. */
void objects_settle(struct objects *o);
/* Removes every object (and unfinished .part) for which keep says 0, and its record. */
int objects_collect(struct objects *o, int (*keep)(void *ctx, const uint8_t sha256[HASH_LEN]),
                    void *ctx);
/* Writes the records durably (temporary name, fsync, rename, folder sync); clears dirty. */
int objects_save(struct objects *o);

#endif

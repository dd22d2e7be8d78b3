/*
 * When to look at the source again: watches the folders the last scan read (uv_fs_event:
 * inotify on Linux, ReadDirectoryChangesW on Windows; neither is recursive, so every folder is
 * watched) and says "changed" once they have been quiet for quiet_ms, so that an installer's
 * many writes make one rescan; and "periodic" every interval_ms, for what no event reports.
 * Loop thread only.
 */
#ifndef GPUPV_HOST_WATCH_H
#define GPUPV_HOST_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* A burst that never goes quiet is reported anyway after this long. */
#define WATCH_MAX_WAIT_MS 60000

enum watch_reason { WATCH_CHANGED, WATCH_PERIODIC };

typedef void (*watch_cb)(void *ctx, enum watch_reason why);

struct watched;

struct source_watch {
  uv_loop_t *loop;
  uint64_t quiet_ms, interval_ms;
  watch_cb cb;
  void *ctx;
  uv_timer_t quiet, periodic;
  struct watched *folders; /* a list; closing ones have left it */
  size_t nfolders, failed; /* failed: folders the last watch_set could not watch */
  int settling;            /* a change was seen and the source has not been quiet since */
  uint64_t first_change_ms;
  int closing;
};

/* Starts the periodic timer (interval_ms 0: none); nothing is watched until watch_set. */
void watch_init(struct source_watch *w, uv_loop_t *loop, uint64_t quiet_ms, uint64_t interval_ms,
                watch_cb cb, void *ctx);
/* Watches exactly these folders from now on. A folder that cannot be watched is logged once
 * and counted in w->failed; the periodic rescan still covers it. */
void watch_set(struct source_watch *w, const char *const *dirs, size_t n);
/* Reports a change as if a folder had: the source moved under a scan. */
void watch_poke(struct source_watch *w);
/* The same, with at least ms of quiet time still to come (a file changed ms ago). */
void watch_poke_in(struct source_watch *w, uint64_t quiet_ms);
/* 1 while a change was seen and the source has not yet been quiet for quiet_ms. */
int watch_settling(const struct source_watch *w);
/* Stops everything; the handles close on the loop (run it out). */
void watch_close(struct source_watch *w);

#endif

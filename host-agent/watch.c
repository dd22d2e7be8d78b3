#include "host-agent/watch.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

struct watched {
  uv_fs_event_t event;
  struct source_watch *w;
  struct watched *next;
  char path[];
};

static void on_quiet(uv_timer_t *t) {
  struct source_watch *w = t->data;
  w->settling = 0;
  w->cb(w->ctx, WATCH_CHANGED);
}

static void on_periodic(uv_timer_t *t) {
  struct source_watch *w = t->data;
  w->cb(w->ctx, WATCH_PERIODIC);
}

void watch_poke(struct source_watch *w) {
  watch_poke_in(w, w->quiet_ms);
}

void watch_poke_in(struct source_watch *w, uint64_t quiet_ms) {
  if (w->closing)
    return;
  uint64_t now = uv_now(w->loop);
  if (!w->settling) {
    w->settling = 1;
    w->first_change_ms = now;
  }
  /* each change moves the quiet time on, up to the longest wait from the burst's start */
  uint64_t waited = now - w->first_change_ms;
  uint64_t left = waited >= WATCH_MAX_WAIT_MS ? 0 : WATCH_MAX_WAIT_MS - waited;
  uint64_t wait = quiet_ms < left ? quiet_ms : left;
  /* a change only ever moves the end of the quiet time later */
  if (!uv_is_active((uv_handle_t *)&w->quiet) || uv_timer_get_due_in(&w->quiet) < wait)
    uv_timer_start(&w->quiet, on_quiet, wait, 0);
}

static void on_event(uv_fs_event_t *e, const char *name, int events, int status) {
  struct watched *f = e->data;
  (void)events;
  if (status < 0)
    log_debug("watching %s: %s", f->path, uv_strerror(status));
  else
    log_debug("source changed: %s%s%s", f->path, name ? "/" : "", name ? name : "");
  watch_poke(f->w);
}

void watch_init(struct source_watch *w, uv_loop_t *loop, uint64_t quiet_ms, uint64_t interval_ms,
                watch_cb cb, void *ctx) {
  memset(w, 0, sizeof *w);
  w->loop = loop;
  w->quiet_ms = quiet_ms;
  w->interval_ms = interval_ms;
  w->cb = cb;
  w->ctx = ctx;
  uv_timer_init(loop, &w->quiet);
  uv_timer_init(loop, &w->periodic);
  w->quiet.data = w->periodic.data = w;
  if (interval_ms)
    uv_timer_start(&w->periodic, on_periodic, interval_ms, interval_ms);
}

static void on_folder_closed(uv_handle_t *h) {
  free(h->data);
}

static void unwatch(struct watched *f) {
  uv_fs_event_stop(&f->event);
  uv_close((uv_handle_t *)&f->event, on_folder_closed);
}

static struct watched *find(struct watched *list, const char *path) {
  for (; list; list = list->next)
    if (strcmp(list->path, path) == 0)
      return list;
  return NULL;
}

void watch_set(struct source_watch *w, const char *const *dirs, size_t n) {
  if (w->closing)
    return;
  /* the new folders are watched before the old ones go, so no change falls between */
  struct watched *kept = NULL, *old = w->folders;
  size_t failed = 0, count = 0;
  for (size_t i = 0; i < n; i++) {
    if (find(kept, dirs[i]))
      continue;
    struct watched *f = find(old, dirs[i]);
    if (f) { /* still watched: move it over */
      struct watched **p = &old;
      while (*p != f)
        p = &(*p)->next;
      *p = f->next;
    } else {
      size_t len = strlen(dirs[i]);
      if (!(f = calloc(1, sizeof *f + len + 1))) {
        failed++;
        continue;
      }
      memcpy(f->path, dirs[i], len + 1);
      f->w = w;
      uv_fs_event_init(w->loop, &f->event);
      f->event.data = f;
      int err = uv_fs_event_start(&f->event, on_event, f->path, 0);
      if (err) {
        /* said once: the next scans arm the same folders again */
        log_msg(w->failed ? LOG_DEBUG : LOG_WARN,
                "cannot watch %s for driver updates (%s); the periodic rescan covers it", f->path,
                uv_strerror(err));
        failed++;
        uv_close((uv_handle_t *)&f->event, on_folder_closed);
        /* it was read by the scan and is gone or unreadable now: the source moved */
        if (err == UV_ENOENT)
          watch_poke(w);
        continue;
      }
    }
    f->next = kept;
    kept = f;
    count++;
  }
  while (old) {
    struct watched *next = old->next;
    unwatch(old);
    old = next;
  }
  w->folders = kept;
  w->nfolders = count;
  w->failed = failed;
}

int watch_settling(const struct source_watch *w) {
  return w->settling;
}

void watch_close(struct source_watch *w) {
  if (w->closing)
    return;
  w->closing = 1;
  while (w->folders) {
    struct watched *next = w->folders->next;
    unwatch(w->folders);
    w->folders = next;
  }
  w->nfolders = 0;
  w->settling = 0;
  uv_close((uv_handle_t *)&w->quiet, NULL);
  uv_close((uv_handle_t *)&w->periodic, NULL);
}

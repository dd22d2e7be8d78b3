/*
 * Driver updates that the source's folders do not show first (Windows): a partitionable GPU's
 * device interface arriving or leaving (CM_Register_Notification, where the system has it)
 * and a change under the display class key (RegNotifyChangeKeyValue: a driver update
 * rewrites InfPath and DriverVersion). Each change calls on_change on the loop thread; the
 * host feeds it to the source watch, so it makes one debounced rescan like a folder change.
 * Elsewhere there is nothing to watch (device-watch-posix.c: UV_ENOTSUP).
 */
#ifndef GPUPV_HOST_DEVICE_WATCH_H
#define GPUPV_HOST_DEVICE_WATCH_H

#include <uv.h>

/* The display adapters' class key, which the host watches. */
#define DEVICE_WATCH_DISPLAY_CLASS                                                                 \
  "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Class\\{4d36e968-e325-11ce-bfc1-08002be10318}"

struct device_watch;

/* Watches key (HKLM\... or HKCU\...) and the GPU interface; *ret is new. */
int device_watch_start(uv_loop_t *loop, const char *key, void (*on_change)(void *ctx), void *ctx,
                       struct device_watch **ret);
/* Stops; what is left is freed once the loop has closed its handle. NULL is fine. */
void device_watch_stop(struct device_watch *w);

#endif

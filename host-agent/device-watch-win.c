#include "host-agent/device-watch.h"

#include "common/log.h"
#include "common/win-text.h"

#include <stdlib.h>
#include <string.h>
#include <windows.h>
/* after windows.h, which they need */
#include <cfgmgr32.h>
#include <initguid.h>

DEFINE_GUID(GPUPV_GUID_GPU_INTERFACE, 0x064092b3, 0x625e, 0x43bf, 0x9e, 0xb5, 0xdc, 0x84, 0x58,
            0x97, 0xdd, 0x59);

typedef CONFIGRET(WINAPI *register_fn)(PCM_NOTIFY_FILTER, PVOID, PCM_NOTIFY_CALLBACK,
                                       PHCMNOTIFICATION);
typedef CONFIGRET(WINAPI *unregister_fn)(HCMNOTIFICATION);

struct device_watch {
  uv_async_t async; /* first: the close callback frees the whole */
  void (*on_change)(void *ctx);
  void *ctx;
  HKEY key;
  HANDLE changed, stop; /* events: the key changed; the thread is to end */
  uv_thread_t thread;
  int thread_started;
  HCMNOTIFICATION device;
  unregister_fn unregister;
};

static void on_async(uv_async_t *a) {
  struct device_watch *w = (struct device_watch *)a;
  w->on_change(w->ctx);
}

/* The registry's notification is one-shot and bound to the thread that asked: a thread of its
 * own asks again after each change, until stop is set. */
static void registry_thread(void *arg) {
  struct device_watch *w = arg;
  HANDLE events[2] = {w->stop, w->changed};
  for (;;) {
    LSTATUS rc = RegNotifyChangeKeyValue(
        w->key, TRUE, REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET, w->changed, TRUE);
    if (rc != ERROR_SUCCESS ||
        WaitForMultipleObjects(2, events, FALSE, INFINITE) != WAIT_OBJECT_0 + 1)
      return;
    uv_async_send(&w->async);
  }
}

static DWORD CALLBACK on_device(HCMNOTIFICATION h, PVOID ctx, CM_NOTIFY_ACTION action,
                                PCM_NOTIFY_EVENT_DATA data, DWORD size) {
  (void)h, (void)data, (void)size;
  struct device_watch *w = ctx;
  if (action == CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL ||
      action == CM_NOTIFY_ACTION_DEVICEINTERFACEREMOVAL)
    uv_async_send(&w->async);
  return ERROR_SUCCESS;
}

/* The GPU interface's arrivals and removals, where cfgmgr32 has CM_Register_Notification
 * (Windows 8 and later; not Wine): looked up, so that its absence only loses this. */
static void watch_devices(struct device_watch *w) {
  HMODULE cfg = LoadLibraryW(L"cfgmgr32.dll");
  register_fn reg =
      cfg ? (register_fn)(void *)GetProcAddress(cfg, "CM_Register_Notification") : NULL;
  w->unregister =
      cfg ? (unregister_fn)(void *)GetProcAddress(cfg, "CM_Unregister_Notification") : NULL;
  CM_NOTIFY_FILTER filter;
  memset(&filter, 0, sizeof filter);
  filter.cbSize = sizeof filter;
  filter.FilterType = CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE;
  filter.u.DeviceInterface.ClassGuid = GPUPV_GUID_GPU_INTERFACE;
  if (!reg || !w->unregister || reg(&filter, w, on_device, &w->device) != CR_SUCCESS) {
    w->device = NULL;
    log_debug("GPU arrivals and removals are not reported here (no CM_Register_Notification); "
              "the driver key and the folders still are");
  }
}

/* Opens "HKLM\..." or "HKCU\..." for notification. */
static LSTATUS open_key(const char *path, HKEY *ret) {
  HKEY root = strncmp(path, "HKLM\\", 5) == 0   ? HKEY_LOCAL_MACHINE
              : strncmp(path, "HKCU\\", 5) == 0 ? HKEY_CURRENT_USER
                                                : NULL;
  wchar_t *sub = root ? win_wide(path + 5) : NULL;
  LSTATUS rc = sub ? RegOpenKeyExW(root, sub, 0, KEY_NOTIFY, ret) : ERROR_INVALID_PARAMETER;
  free(sub);
  return rc;
}

static void on_closed(uv_handle_t *h) {
  free(h); /* the async is the first member */
}

int device_watch_start(uv_loop_t *loop, const char *key, void (*on_change)(void *ctx), void *ctx,
                       struct device_watch **ret) {
  *ret = NULL;
  struct device_watch *w = calloc(1, sizeof *w);
  if (!w)
    return UV_ENOMEM;
  w->on_change = on_change;
  w->ctx = ctx;
  int err = uv_async_init(loop, &w->async, on_async);
  if (err) {
    free(w);
    return err;
  }
  LSTATUS rc = open_key(key, &w->key);
  w->changed = CreateEventW(NULL, FALSE, FALSE, NULL);
  w->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (rc == ERROR_SUCCESS && w->changed && w->stop &&
      uv_thread_create(&w->thread, registry_thread, w) == 0)
    w->thread_started = 1;
  else
    log_warn("cannot watch %s for driver updates (%s); the folders and the periodic rescan "
             "still are",
             key, uv_strerror(uv_translate_sys_error(rc ? (int)rc : (int)GetLastError())));
  watch_devices(w);
  *ret = w;
  return 0;
}

void device_watch_stop(struct device_watch *w) {
  if (!w)
    return;
  if (w->device)
    w->unregister(w->device); /* waits for a callback in flight */
  if (w->thread_started) {
    SetEvent(w->stop);
    uv_thread_join(&w->thread);
  }
  if (w->key)
    RegCloseKey(w->key);
  if (w->changed)
    CloseHandle(w->changed);
  if (w->stop)
    CloseHandle(w->stop);
  uv_close((uv_handle_t *)&w->async, on_closed);
}

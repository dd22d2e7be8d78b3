#include "common/eventlog.h"

#include "common/log.h"
#include "common/win-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>
#include <windows.h>

#define EVENTLOG_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\"
#define GPUPV_EVENT_LINE 1 /* gpupv-events.mc: "%1" */

static HANDLE source;

int eventlog_register(const char *name, char *err, size_t err_size) {
  wchar_t exe[MAX_PATH], key[300];
  wchar_t *wname = win_wide(name);
  DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
  LSTATUS rc = ERROR_OUTOFMEMORY;
  HKEY h;
  if (wname && n && n < MAX_PATH) {
    swprintf(key, 300, L"%ls%ls", EVENTLOG_KEY, wname);
    rc = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE, NULL, &h, NULL);
    if (rc == ERROR_SUCCESS) {
      DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
      rc = RegSetValueExW(h, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                          (n + 1) * sizeof *exe);
      if (rc == ERROR_SUCCESS)
        rc = RegSetValueExW(h, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof types);
      RegCloseKey(h);
    }
  }
  free(wname);
  if (rc != ERROR_SUCCESS)
    snprintf(err, err_size, "registering the Event Log source: %s",
             uv_strerror(uv_translate_sys_error((int)rc)));
  return rc == ERROR_SUCCESS ? 0 : uv_translate_sys_error((int)rc);
}

void eventlog_unregister(const char *name) {
  wchar_t key[300];
  wchar_t *wname = win_wide(name);
  if (wname) {
    swprintf(key, 300, L"%ls%ls", EVENTLOG_KEY, wname);
    RegDeleteKeyW(HKEY_LOCAL_MACHINE, key);
  }
  free(wname);
}

static void to_eventlog(enum log_level level, const char *text) {
  if (!source || level > LOG_WARN)
    return;
  wchar_t *w = win_wide(text);
  if (!w)
    return;
  const wchar_t *strings[] = {w};
  ReportEventW(source, level == LOG_ERROR ? EVENTLOG_ERROR_TYPE : EVENTLOG_WARNING_TYPE, 0,
               GPUPV_EVENT_LINE, NULL, 1, 0, strings, NULL);
  free(w);
}

static void say(WORD type, const char *text) {
  wchar_t *w = win_wide(text);
  const wchar_t *strings[] = {w};
  if (w)
    ReportEventW(source, type, 0, GPUPV_EVENT_LINE, NULL, 1, 0, strings, NULL);
  free(w);
}

void eventlog_start(const char *name) {
  wchar_t *wname = win_wide(name);
  source = wname ? RegisterEventSourceW(NULL, wname) : NULL;
  free(wname);
  if (!source)
    return; /* not registered (an install of an older release): stderr only */
  say(EVENTLOG_INFORMATION_TYPE, "the service started");
  log_set_sink(to_eventlog);
}

void eventlog_stop(void) {
  if (!source)
    return;
  log_set_sink(NULL);
  say(EVENTLOG_INFORMATION_TYPE, "the service stopped");
  DeregisterEventSource(source);
  source = NULL;
}

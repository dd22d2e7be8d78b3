/* Defaults for Windows and the Service Control Manager (platform.h). */
#include "common/platform.h"

#include "common/eventlog.h"
#include "common/log.h"
#include "common/service-path.h"
#include "common/win-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define GCS_KEY                                                                                    \
  L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"                             \
  L"GuestCommunicationServices"

static char host_state[MAX_PATH * 3], guest_state[MAX_PATH * 3], guest_root[MAX_PATH * 3];
static struct platform_defaults defaults = {
    .control = "pipe:gpupv-hostd",
    .host_listen = "hvsock://*:18256",
    .guest_connect = "hvsock://parent:18256",
};

const struct platform_defaults *platform_defaults(void) {
  if (!defaults.guest_root) {
    const char *data = getenv("ProgramData");
    data = data && *data ? data : "C:\\ProgramData";
    snprintf(host_state, sizeof host_state, "%s\\gpupv\\hostd", data);
    snprintf(guest_state, sizeof guest_state, "%s\\gpupv\\guestd", data);
    wchar_t system[MAX_PATH];
    UINT n = GetSystemDirectoryW(system, MAX_PATH);
    char *utf8 = n && n < MAX_PATH ? win_utf8(system) : NULL;
    snprintf(guest_root, sizeof guest_root, "%s", utf8 ? utf8 : "C:\\Windows\\System32");
    free(utf8);
    defaults.host_state = host_state;
    defaults.guest_state = guest_state;
    defaults.guest_root = guest_root;
  }
  return &defaults;
}

void platform_hostname(char *ret, size_t size, const char *fallback) {
  size_t n = size;
  if (uv_os_gethostname(ret, &n) != 0)
    snprintf(ret, size, "%s", fallback);
}

static int fail(char *err, size_t err_size, const char *what) {
  DWORD code = GetLastError();
  snprintf(err, err_size, "%s: %s (error %lu)", what,
           code == ERROR_ACCESS_DENIED ? "run as Administrator" : "failed", (unsigned long)code);
  return uv_translate_sys_error((int)code);
}

/* The command line the service runs: this program with --service and its config. */
static wchar_t *service_command_line(const struct service_spec *spec) {
  wchar_t exe[MAX_PATH];
  DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
  if (!n || n == MAX_PATH)
    return NULL;
  wchar_t *config = spec->config ? win_wide(spec->config) : NULL;
  size_t len = wcslen(exe) + (config ? wcslen(config) : 0) + 64;
  wchar_t *cmd = malloc(len * sizeof *cmd);
  if (cmd && config)
    swprintf(cmd, len, L"\"%ls\" --service --config \"%ls\"", exe, config);
  else if (cmd)
    swprintf(cmd, len, L"\"%ls\" --service", exe);
  free(config);
  return cmd;
}

/* The Hyper-V socket service registration a host needs so guests may connect (DESIGN §2). */
static int write_gcs_key(const struct service_spec *spec, char *err, size_t err_size) {
  if (!spec->hv_service_guid)
    return 0;
  wchar_t *guid = win_wide(spec->hv_service_guid), *element = win_wide(spec->display_name);
  wchar_t key[512];
  HKEY h;
  LSTATUS rc = ERROR_OUTOFMEMORY;
  if (guid && element) {
    swprintf(key, 512, L"%ls\\{%ls}", GCS_KEY, guid);
    rc = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE, NULL, &h, NULL);
    if (rc == ERROR_SUCCESS) {
      rc = RegSetValueExW(h, L"ElementName", 0, REG_SZ, (const BYTE *)element,
                          (DWORD)((wcslen(element) + 1) * sizeof *element));
      RegCloseKey(h);
    }
  }
  free(guid);
  free(element);
  if (rc != ERROR_SUCCESS) {
    SetLastError((DWORD)rc);
    return fail(err, err_size, "registering the Hyper-V socket service");
  }
  return 0;
}

static void delete_gcs_key(const struct service_spec *spec) {
  if (!spec->hv_service_guid)
    return;
  wchar_t *guid = win_wide(spec->hv_service_guid);
  wchar_t key[512];
  if (guid) {
    swprintf(key, 512, L"%ls\\{%ls}", GCS_KEY, guid);
    RegDeleteKeyW(HKEY_LOCAL_MACHINE, key);
  }
  free(guid);
}

/* Restart after a crash: 5 s, 30 s, then every 60 s; the count starts again after a day. */
static void set_failure_actions(SC_HANDLE svc) {
  SC_ACTION actions[] = {
      {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 3, actions};
  ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa);
}

/* Quotes the service's program path when its registration left it unquoted with a space in
 * it (service-path.h). */
static void quote_image_path(SC_HANDLE svc) {
  DWORD need = 0;
  QueryServiceConfigW(svc, NULL, 0, &need);
  QUERY_SERVICE_CONFIGW *cfg = need ? malloc(need) : NULL;
  char *cmd = NULL, quoted[4096];
  if (cfg && QueryServiceConfigW(svc, cfg, need, &need) && cfg->lpBinaryPathName &&
      (cmd = win_utf8(cfg->lpBinaryPathName)) && service_path_quote(cmd, quoted, sizeof quoted)) {
    wchar_t *wide = win_wide(quoted);
    if (wide && ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE,
                                     wide, NULL, NULL, NULL, NULL, NULL, NULL))
      log_info("quoted this service's program path: %s", quoted);
    free(wide);
  }
  free(cmd);
  free(cfg);
}

/* What an MSI cannot register (wixl writes no failure actions, and Windows Installer may leave
 * the program path unquoted): the service sets it itself at each start, which its LocalSystem
 * account may. */
static void ensure_service_config(const char *name) {
  wchar_t *wname = win_wide(name);
  SC_HANDLE scm = wname ? OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT) : NULL;
  SC_HANDLE svc =
      scm ? OpenServiceW(scm, wname, SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG) : NULL;
  if (svc) {
    set_failure_actions(svc);
    quote_image_path(svc);
    CloseServiceHandle(svc);
  }
  if (scm)
    CloseServiceHandle(scm);
  free(wname);
}

int service_install(const struct service_spec *spec, char *err, size_t err_size) {
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
  if (!scm)
    return fail(err, err_size, "opening the Service Control Manager");
  wchar_t *name = win_wide(spec->name), *display = win_wide(spec->display_name),
          *description = win_wide(spec->description), *cmd = service_command_line(spec);
  int rc = 0;
  SC_HANDLE svc = NULL;
  if (!name || !display || !description || !cmd) {
    snprintf(err, err_size, "out of memory");
    rc = UV_ENOMEM;
  } else if (!(svc = CreateServiceW(scm, name, display, SERVICE_ALL_ACCESS,
                                    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                    SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL))) {
    rc = fail(err, err_size,
              GetLastError() == ERROR_SERVICE_EXISTS
                  ? "creating the service: it is already installed"
                  : "creating the service");
  } else {
    SERVICE_DESCRIPTIONW d = {description};
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &d);
    set_failure_actions(svc);
    if ((rc = write_gcs_key(spec, err, err_size)) ||
        (rc = eventlog_register(spec->name, err, err_size))) {
      DeleteService(svc);
      delete_gcs_key(spec);
    }
  }
  if (svc)
    CloseServiceHandle(svc);
  CloseServiceHandle(scm);
  free(name), free(display), free(description), free(cmd);
  return rc;
}

int service_uninstall(const struct service_spec *spec, char *err, size_t err_size) {
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  if (!scm)
    return fail(err, err_size, "opening the Service Control Manager");
  wchar_t *name = win_wide(spec->name);
  int rc = 0;
  SC_HANDLE svc =
      name ? OpenServiceW(scm, name, SERVICE_STOP | DELETE | SERVICE_QUERY_STATUS) : NULL;
  if (!svc) {
    rc = fail(err, err_size, "opening the service (is it installed?)");
  } else {
    SERVICE_STATUS st;
    ControlService(svc, SERVICE_CONTROL_STOP, &st);
    if (!DeleteService(svc) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE)
      rc = fail(err, err_size, "deleting the service");
    CloseServiceHandle(svc);
  }
  if (!rc) {
    delete_gcs_key(spec);
    eventlog_unregister(spec->name);
  }
  CloseServiceHandle(scm);
  free(name);
  return rc;
}

/* --- running under the Service Control Manager --- */

static struct {
  const char *name;
  int (*body)(int argc, char **argv);
  int argc;
  char **argv;
  int rc;
  SERVICE_STATUS_HANDLE status_handle;
  SERVICE_STATUS status;
  uv_mutex_t lock;
  uv_async_t *stop_async; /* set while a loop watches */
  void (*stop)(void *ctx);
  void *stop_ctx;
  int stop_requested;
} svc;

static void report(DWORD state, DWORD exit_code) {
  svc.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  svc.status.dwCurrentState = state;
  svc.status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  svc.status.dwWin32ExitCode = exit_code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
  svc.status.dwServiceSpecificExitCode = exit_code;
  svc.status.dwWaitHint = state == SERVICE_STOP_PENDING ? 30000 : 0;
  SetServiceStatus(svc.status_handle, &svc.status);
}

static DWORD WINAPI on_control(DWORD control, DWORD type, void *data, void *ctx) {
  (void)type, (void)data, (void)ctx;
  if (control != SERVICE_CONTROL_STOP && control != SERVICE_CONTROL_SHUTDOWN)
    return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
  report(SERVICE_STOP_PENDING, 0);
  uv_mutex_lock(&svc.lock);
  svc.stop_requested = 1;
  if (svc.stop_async)
    uv_async_send(svc.stop_async);
  uv_mutex_unlock(&svc.lock);
  return NO_ERROR;
}

static void WINAPI service_main(DWORD argc, wchar_t **argv) {
  (void)argc, (void)argv;
  wchar_t *name = win_wide(svc.name);
  svc.status_handle = RegisterServiceCtrlHandlerExW(name, on_control, NULL);
  free(name);
  if (!svc.status_handle) {
    svc.rc = 1;
    return;
  }
  report(SERVICE_RUNNING, 0);
  ensure_service_config(svc.name);
  eventlog_start(svc.name);
  svc.rc = svc.body(svc.argc, svc.argv);
  if (svc.rc)
    log_error("the service stops with exit code %d", svc.rc);
  eventlog_stop();
  report(SERVICE_STOPPED, (DWORD)svc.rc);
}

int service_run(const char *name, int (*body)(int argc, char **argv), int argc, char **argv) {
  int as_service = 0;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--service") == 0) {
      memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
      argc--;
      as_service = 1;
      break;
    }
  if (!as_service)
    return body(argc, argv);
  svc.name = name;
  svc.body = body;
  svc.argc = argc;
  svc.argv = argv;
  uv_mutex_init(&svc.lock);
  wchar_t *wname = win_wide(name);
  SERVICE_TABLE_ENTRYW table[] = {{wname, service_main}, {NULL, NULL}};
  if (!StartServiceCtrlDispatcherW(table)) {
    fprintf(stderr, "%s: --service is for the Service Control Manager (error %lu)\n", name,
            (unsigned long)GetLastError());
    svc.rc = 2;
  }
  free(wname);
  return svc.rc;
}

static void on_stop_async(uv_async_t *a) {
  (void)a;
  log_info("the service manager asked the agent to stop");
  if (svc.stop)
    svc.stop(svc.stop_ctx);
}

void service_watch_stop(uv_loop_t *loop, void (*stop)(void *ctx), void *ctx) {
  if (!svc.status_handle)
    return;
  uv_async_t *a = malloc(sizeof *a);
  if (!a || uv_async_init(loop, a, on_stop_async)) {
    free(a);
    return;
  }
  svc.stop = stop;
  svc.stop_ctx = ctx;
  uv_mutex_lock(&svc.lock);
  svc.stop_async = a;
  if (svc.stop_requested)
    uv_async_send(a);
  uv_mutex_unlock(&svc.lock);
}

void service_unwatch(void) {
  uv_mutex_lock(&svc.lock);
  uv_async_t *a = svc.stop_async;
  svc.stop_async = NULL;
  uv_mutex_unlock(&svc.lock);
  if (a)
    uv_close((uv_handle_t *)a, (uv_close_cb)free);
}

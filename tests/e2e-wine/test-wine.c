/*
 * The Windows agents (a mingw build, GPUPV_WIN_BUILD_DIR) under Wine, against the Linux ones
 * over TCP loopback, and the Windows service registration. Wine sees / as drive Z:.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define WINE "/usr/bin/wine"

static const struct fixture_spec small = {.seed = 7,
                                          .packages = 2,
                                          .files_per_package = 12,
                                          .small_max = 9000,
                                          .big_files = 1,
                                          .big_min = 200000,
                                          .big_max = 400000};

/* A free loopback port: the kernel picks one for a socket we then close. */
static const char *win_exe(const char *name) {
  static char path[3][1024];
  static int next;
  char *p = path[next++ % 3];
  const char *dir = strcmp(name, "gpupv-guestd") == 0 ? "guest-agent"
                    : strcmp(name, "gpupv") == 0      ? "cli"
                                                      : "host-agent";
  snprintf(p, 1024, "%s/%s/%s.exe", GPUPV_WIN_BUILD_DIR, dir, name);
  CHECK_MSG(fs_exists(p), "%s is not built (scripts/win-build.sh)", p);
  return p;
}

/* A Linux path as Wine names it. */
static char *z_path(const char *path) {
  char *p = malloc(strlen(path) + 3);
  CHECK(p);
  sprintf(p, "Z:%s", path);
  return p;
}

static void use_wine_prefix(void) {
  setenv("WINEPREFIX", GPUPV_WINEPREFIX, 1);
  setenv("WINEDEBUG", "-all", 1);
}

static int run_wine(char *const args[], struct buf *out) {
  char *argv[16] = {WINE};
  int n = 1;
  for (; args[n - 1] && n < 15; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  struct buf err;
  buf_init(&err);
  int rc = proc_run(argv, out, &err);
  buf_done(&err);
  return rc;
}

/* FileRepository of the prefix against SRC/store: names and content (no permission bits). */
static int repository_is(const char *src, char *why, size_t why_size) {
  char repo[1024], want[1024];
  snprintf(repo, sizeof repo, "%s/drive_c/windows/system32/HostDriverStore/FileRepository",
           GPUPV_WINEPREFIX);
  snprintf(want, sizeof want, "%s/store", src);
  struct tree a, b;
  tree_list(want, &a);
  tree_list(repo, &b);
  for (size_t i = 0; i < a.n; i++)
    a.e[i].mode = 0;
  for (size_t i = 0; i < b.n; i++)
    b.e[i].mode = 0;
  int same = tree_equal(&a, &b, why, why_size);
  tree_free(&a);
  tree_free(&b);
  return same;
}

static void start_wine_guest(struct proc *guest, const char *listen, const char *state) {
  char *argv[] = {WINE,
                  (char *)win_exe("gpupv-guestd"),
                  "--connect",
                  (char *)listen,
                  "--state-dir",
                  (char *)state,
                  "--name",
                  "winguest",
                  "--retry-max-ms",
                  "300",
                  NULL};
  proc_start(guest, test_path("wine-guest.log"), argv, NULL);
}

static void run_quiet(char *const argv[]) {
  struct buf out, err;
  CHECK_EQ_INT(agents_run(argv, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
}

TEST(e2e_wine_guest_installs_from_linux_host) {
  use_wine_prefix();
  const char *src = test_path("src");
  CHECK(fixture_make(src, &small) == 0);
  char listen[64];
  snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", agents_free_port());
  struct proc host, guest;
  char *extra[] = {"--listen", listen, NULL};
  agents_start_host(&host, src, NULL, extra);
  /* the Windows guest installs into the prefix's System32, its default root */
  char *state = z_path(test_path("wine-guest-state"));
  start_wine_guest(&guest, listen, state);
  agents_push_ok("winguest");

  char want[1024], why[512];
  CHECK_MSG(repository_is(src, why, sizeof why), "FileRepository differs from the host: %s", why);
  /* a Windows guest takes no Linux libraries */
  snprintf(want, sizeof want, "%s/drive_c/windows/system32/HostDriverStore/.gpupv/current",
           GPUPV_WINEPREFIX);
  CHECK(fs_exists(want));

  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "winguest");
  CHECK(g && cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  const cJSON *gpu = cJSON_GetObjectItem(g, "gpu");
  CHECK_EQ_STR(cJSON_GetObjectItem(gpu, "os")->valuestring, "windows");
  CHECK(cJSON_IsArray(cJSON_GetObjectItem(gpu, "adapters")));
  /* no GPU-PV adapter under Wine: said, with a fix, in Windows' words */
  const cJSON *c, *adapters_check = NULL;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(gpu, "checks")) {
    if (strcmp(cJSON_GetObjectItem(c, "id")->valuestring, "adapters") == 0)
      adapters_check = c;
  }
  CHECK_MSG(adapters_check, "the Windows guest reports no adapters check");
  CHECK(strcmp(cJSON_GetObjectItem(adapters_check, "level")->valuestring, "ok") != 0);
  CHECK_MSG(cJSON_IsFalse(cJSON_GetObjectItem(gpu, "healthy")), "%s",
            cJSON_PrintUnformatted(adapters_check));
  char *printed = cJSON_PrintUnformatted(status);
  CHECK_MSG(!strstr(printed, "/dev/dxg") && !strstr(printed, "dxgkrnl"),
            "a Windows guest is described in Linux words: %s", printed);
  free(printed);
  struct buf shown, shown_err;
  char *one[] = {"gpupv", "--control", (char *)agents_control_uri(), "status", "winguest", NULL};
  CHECK_EQ_INT(agents_run(one, &shown, &shown_err), 0);
  CHECK_MSG(strstr((char *)shown.data, "adapters") && !strstr((char *)shown.data, "/dev/dxg"),
            "gpupv status winguest:\n%s", (char *)shown.data);
  buf_done(&shown);
  buf_done(&shown_err);
  cJSON_Delete(status);

  /* a second push finds the guest in sync and succeeds */
  cJSON *result;
  CHECK_EQ_INT(agents_push("winguest", &result), 0);
  cJSON_Delete(result);
  proc_kill(&guest);
  proc_stop(&host);
  /* leave the shared prefix as other tests expect it */
  snprintf(want, sizeof want, "%s/drive_c/windows/system32/HostDriverStore", GPUPV_WINEPREFIX);
  fs_remove_tree(want);
  free(state);
}

TEST(e2e_wine_host_serves_linux_guest) {
  use_wine_prefix();
  const char *src = test_path("src");
  CHECK(fixture_make(src, &small) == 0);
  /* A Windows host publishes files as executable (no permission bits to read). */
  char *chmod_argv[] = {"/bin/chmod", "-R", "a+x", (char *)src, NULL};
  CHECK_EQ_INT(proc_run(chmod_argv, NULL, NULL), 0);
  char listen[64], control[64];
  snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", agents_free_port());
  snprintf(control, sizeof control, "tcp://127.0.0.1:%d", agents_free_port());
  char store[1024], inbox[1024], packaged[1024];
  snprintf(store, sizeof store, "Z:%s/store", src);
  snprintf(inbox, sizeof inbox, "Z:%s/inbox", src);
  snprintf(packaged, sizeof packaged, "Z:%s/packaged", src);
  char *state = z_path(test_path("wine-host-state"));
  char *argv[] = {WINE,
                  (char *)win_exe("gpupv-hostd"),
                  "--driver-store",
                  store,
                  "--lib-inbox",
                  inbox,
                  "--lib-packaged",
                  packaged,
                  "--listen",
                  listen,
                  "--control",
                  control,
                  "--state-dir",
                  state,
                  "--name",
                  "winhost",
                  "--discover",
                  NULL};
  struct proc host, guest;
  proc_start(&host, test_path("wine-host.log"), argv, NULL);
  const char *root = test_path("guest-root");
  char *guest_argv[] = {"gpupv-guestd",
                        "--connect",
                        listen,
                        "--root",
                        (char *)root,
                        "--state-dir",
                        (char *)test_path("guest-state"),
                        "--name",
                        "g1",
                        "--retry-max-ms",
                        "300",
                        NULL};
  proc_start(&guest, test_path("guest.log"), guest_argv, NULL);
  /* the CLI waits for the host to come up, then for the guest to be in sync */
  char *push[] = {"gpupv",  "--control", control,   "--connect-timeout",
                  "120000", "push",      "--guest", "g1",
                  "--wait", "--json",    NULL};
  struct buf out;
  buf_init(&out);
  int rc = proc_run(push, &out, NULL);
  CHECK_MSG(rc == 0, "push through the Windows host failed (%d): %s\nhost log:\n%s", rc,
            out.len ? (char *)out.data : "", proc_read_log(test_path("wine-host.log")));
  buf_done(&out);
  agents_check_installed(root, src);
  /* Wine has no partitionable GPU: discovery says so and the configured folders serve */
  char *log = proc_read_log(test_path("wine-host.log"));
  CHECK_MSG(
      strstr(log, "discovery found no driver package (SetupAPI lists no partitionable GPU)") &&
          strstr(log, "publishing the configured folders"),
      "the host log does not explain discovery's fallback:\n%s", log);
  free(log);
  proc_stop(&guest);
  proc_kill(&host);
  free(state);
}

TEST(e2e_wine_service_install_and_uninstall) {
  use_wine_prefix();
  static const char *service_key = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\gpupv-hostd";
  static const char *gcs_key =
      "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"
      "GuestCommunicationServices\\{00004750-facb-11e6-bd58-64006a7986d3}";
  static const char *events_key =
      "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\gpupv-hostd";
  struct buf out;
  buf_init(&out);
  /* a config that is missing, or not a JSON object, is refused before anything is made */
  char *config = z_path(test_path("hostd.json"));
  char *install[] = {(char *)win_exe("gpupv-hostd"), "install", "--config", config, NULL};
  CHECK_EQ_INT(run_wine(install, &out), 1);
  CHECK(fs_write_atomic(test_path("hostd.json"), "[\"not settings\"]", 16, 0644) == 0);
  CHECK_EQ_INT(run_wine(install, &out), 1);
  char *query_service[] = {"reg", "query", (char *)service_key, "/v", "ImagePath", NULL};
  CHECK(run_wine(query_service, &out) != 0);
  const char *settings = "{\"driver_store\": \"C:\\\\gpu\\\\FileRepository\"}";
  CHECK(fs_write_atomic(test_path("hostd.json"), settings, strlen(settings), 0644) == 0);
  out.len = 0;
  CHECK_EQ_INT(run_wine(install, &out), 0);
  out.len = 0;
  CHECK_EQ_INT(run_wine(query_service, &out), 0);
  CHECK_MSG(strstr((char *)out.data, "gpupv-hostd.exe\" --service --config"), "ImagePath: %s",
            (char *)out.data);
  char *query_start[] = {"reg", "query", (char *)service_key, "/v", "Start", NULL};
  out.len = 0;
  CHECK_EQ_INT(run_wine(query_start, &out), 0);
  CHECK_MSG(strstr((char *)out.data, "0x2"), "not an automatic start: %s", (char *)out.data);
  char *query_gcs[] = {"reg", "query", (char *)gcs_key, "/v", "ElementName", NULL};
  out.len = 0;
  CHECK_EQ_INT(run_wine(query_gcs, &out), 0);
  CHECK_MSG(strstr((char *)out.data, "gpupv host agent"), "ElementName: %s", (char *)out.data);
  /* the Event Log source: this executable's message table */
  char *query_events[] = {"reg", "query", (char *)events_key, "/v", "EventMessageFile", NULL};
  out.len = 0;
  CHECK_EQ_INT(run_wine(query_events, &out), 0);
  CHECK_MSG(strstr((char *)out.data, "gpupv-hostd.exe"), "EventMessageFile: %s", (char *)out.data);
  /* installing twice says so */
  CHECK(run_wine(install, &out) != 0);

  char *uninstall[] = {(char *)win_exe("gpupv-hostd"), "uninstall", NULL};
  CHECK_EQ_INT(run_wine(uninstall, &out), 0);
  CHECK(run_wine(query_service, &out) != 0);
  CHECK(run_wine(query_gcs, &out) != 0);
  CHECK(run_wine(query_events, &out) != 0);
  buf_done(&out);
  free(config);
}

/*
 * A package folder in use (the fault hook makes one rename say "busy"): the guest moves back
 * what it moved, registers the whole switch for the next restart and says reboot_required; the
 * visible FileRepository stays the old generation, whole, and the restart (wineboot -r) brings
 * the new one, whole. The walk goes over every rename of the install until one is the move.
 */
TEST(e2e_wine_folder_in_use_waits_for_restart) {
  use_wine_prefix();
  const char *src = test_path("src"), *a = test_path("src-a"), *b = test_path("src-b");
  char renamed[256], why[512];
  CHECK(fixture_make(a, &small) == 0);
  char *cp[] = {"/bin/cp", "-a", (char *)a, (char *)b, NULL};
  run_quiet(cp);
  CHECK(fixture_bump(b, 3, renamed, sizeof renamed) == 0);
  char *drop[] = {"/usr/bin/find", (char *)b, "-mindepth", "1", "-type", "d",
                  "-empty",        "-delete", NULL};
  run_quiet(drop);
  CHECK(fs_symlink_replace(a, src) == 0);
  char listen[64], store_dir[1024];
  snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", agents_free_port());
  snprintf(store_dir, sizeof store_dir, "%s/drive_c/windows/system32/HostDriverStore",
           GPUPV_WINEPREFIX);
  struct proc host, guest;
  char *extra[] = {"--listen", listen, NULL};
  agents_start_host(&host, src, NULL, extra);
  char *state = z_path(test_path("wine-guest-state"));
  int waited = 0;
  for (int n = 1; n <= 40 && !waited; n++) {
    /* a guest on A, from nothing */
    fs_remove_tree(store_dir);
    fs_remove_tree(test_path("wine-guest-state"));
    CHECK(fs_symlink_replace(a, src) == 0);
    start_wine_guest(&guest, listen, state);
    agents_push_ok("winguest");
    proc_kill(&guest);
    /* B, with the Nth rename busy */
    char spec[32];
    snprintf(spec, sizeof spec, "rename:%d:busy", n);
    setenv("GPUPV_FS_FAULT", spec, 1);
    start_wine_guest(&guest, listen, state);
    unsetenv("GPUPV_FS_FAULT");
    CHECK(fs_symlink_replace(b, src) == 0);
    cJSON *result = NULL;
    int rc = agents_push("winguest", &result);
    cJSON_Delete(result);
    int is_a = repository_is(a, why, sizeof why), is_b = !is_a && repository_is(b, why, sizeof why);
    CHECK_MSG(is_a || is_b, "rename %d busy: FileRepository is neither A nor B (%s)", n, why);
    cJSON *status = agents_status();
    const cJSON *g = agents_guest(status, "winguest");
    waited = cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "gpu"), "reboot_required"));
    if (waited) {
      const cJSON *warning = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "last_push"), "warning");
      CHECK_MSG(rc == 0 && is_a, "rename %d: waiting for a restart, but the push %s and B shows", n,
                rc ? "failed" : "succeeded");
      CHECK_MSG(cJSON_IsString(warning) && strstr(warning->valuestring, "reboot required"),
                "the push does not say a restart is required");
    } else {
      CHECK_MSG(!(rc == 0 && is_a), "rename %d: the push succeeded, but A shows", n);
    }
    cJSON_Delete(status);
    proc_kill(&guest);
  }
  CHECK_MSG(waited, "no rename of the install was the move of a visible folder");
  /* the restart runs the registered moves: B, whole */
  char *reboot[] = {WINE, "wineboot", "-r", NULL};
  run_quiet(reboot);
  CHECK_MSG(repository_is(b, why, sizeof why), "after the restart: %s", why);
  start_wine_guest(&guest, listen, state);
  agents_push_ok("winguest");
  cJSON *status = agents_status();
  const cJSON *gpu = cJSON_GetObjectItem(agents_guest(status, "winguest"), "gpu");
  CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(gpu, "reboot_required")));
  cJSON_Delete(status);
  proc_kill(&guest);
  proc_stop(&host);
  fs_remove_tree(store_dir);
  free(state);
}

/* The first package's INF without its CopyToVm lines: a generation with no system files. */
static void drop_copy_to_vm(const char *src) {
  char store[1024], path[2048];
  char **names;
  size_t n;
  snprintf(store, sizeof store, "%s/store", src);
  CHECK(fs_list_dir(store, &names, &n) == 0 && n > 0);
  snprintf(path, sizeof path, "%s/%s/nv_dispi.inf", store, names[0]);
  fs_names_free(names, n);
  CHECK_MSG(fs_exists(path), "%s: the fixture's first package has no nv_dispi.inf", path);
  const char *plain = "[Version]\r\nSignature=\"$WINDOWS NT$\"\r\nClass=Display\r\n"
                      "DriverVer=05/14/2024,31.0.15.5000\r\n";
  CHECK(fs_write_atomic(path, plain, strlen(plain), 0644) == 0);
}

static char *prefix_file(const char *folder, const char *name) {
  char *path = malloc(1200);
  snprintf(path, 1200, "%s/drive_c/windows/%s/%s", GPUPV_WINEPREFIX, folder, name);
  return path;
}

static int file_is(const char *path, const char *want_path) {
  struct buf a, b;
  buf_init(&a);
  buf_init(&b);
  int same = fs_read_file(path, 1 << 24, &a) == 0 && fs_read_file(want_path, 1 << 24, &b) == 0 &&
             a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
  buf_done(&a);
  buf_done(&b);
  return same;
}

TEST(e2e_wine_guest_places_system_files_and_rollback_puts_back) {
  use_wine_prefix();
  const char *a = test_path("src-a"), *b = test_path("src-b"), *src = test_path("src");
  CHECK(fixture_make(a, &small) == 0);
  drop_copy_to_vm(a);
  CHECK(fixture_make(b, &small) == 0); /* the same drivers, with the CopyToVm lists */
  CHECK(fs_symlink_replace(a, src) == 0);
  char *sys64 = prefix_file("system32", "gpu_runtime64.dll");
  char *sys32 = prefix_file("syswow64", "gpu_runtime32.dll");
  const char *original = "the guest's own gpu_runtime64.dll";
  CHECK(fs_write_atomic(sys64, original, strlen(original), 0644) == 0);
  fs_unlink(sys32);
  char listen[64];
  snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", agents_free_port());
  struct proc host, guest;
  char *extra[] = {"--listen", listen, NULL};
  agents_start_host(&host, src, NULL, extra);
  char *state = z_path(test_path("wine-guest-state"));
  start_wine_guest(&guest, listen, state);
  agents_push_ok("winguest"); /* A: no system files */
  cJSON *status = agents_status();
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "winguest"), "system_files")));
  cJSON_Delete(status);

  /* B: both files placed, from the package's shared_runtime.dll */
  CHECK(fs_symlink_replace(b, src) == 0);
  agents_push_ok("winguest");
  char store[1024], runtime[2048];
  char **names;
  size_t n;
  snprintf(store, sizeof store, "%s/store", b);
  CHECK(fs_list_dir(store, &names, &n) == 0 && n > 0);
  snprintf(runtime, sizeof runtime, "%s/%s/shared_runtime.dll", store, names[0]);
  fs_names_free(names, n);
  CHECK_MSG(file_is(sys64, runtime), "System32\\gpu_runtime64.dll is not the package's file");
  CHECK_MSG(file_is(sys32, runtime), "SysWOW64\\gpu_runtime32.dll is not the package's file");
  status = agents_status();
  const cJSON *g = agents_guest(status, "winguest");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "gpu"), "reboot_required")));
  cJSON_Delete(status);
  proc_kill(&guest);

  /* rolled back to A: the file B replaced comes back, the one it added goes */
  struct buf out;
  char *rollback[] = {(char *)win_exe("gpupv-guestd"), "--rollback", "--state-dir", state, NULL};
  CHECK_EQ_INT(run_wine(rollback, &out), 0);
  buf_done(&out);
  struct buf text;
  buf_init(&text);
  CHECK(fs_read_file(sys64, 1 << 20, &text) == 0);
  CHECK_MSG(text.len == strlen(original) && memcmp(text.data, original, text.len) == 0,
            "rollback did not put the guest's own gpu_runtime64.dll back");
  buf_done(&text);
  CHECK_MSG(!fs_exists(sys32), "rollback left SysWOW64\\gpu_runtime32.dll, which B placed");
  proc_stop(&host);
  /* leave the shared prefix as other tests expect it */
  fs_unlink(sys64);
  fs_unlink(sys32);
  snprintf(store, sizeof store, "%s/drive_c/windows/system32/HostDriverStore", GPUPV_WINEPREFIX);
  fs_remove_tree(store);
  free(sys64);
  free(sys32);
  free(state);
}

/* The Windows agents' --help speaks of Windows: hvsock, named pipes, %ProgramData%, the
 * service manager; not of SIGHUP or /srv. */
TEST(e2e_wine_help_names_windows_defaults) {
  use_wine_prefix();
  const char *names[] = {"gpupv-hostd", "gpupv-guestd"};
  for (int i = 0; i < 2; i++) {
    struct buf out;
    buf_init(&out);
    char *help[] = {(char *)win_exe(names[i]), "--help", NULL};
    CHECK_EQ_INT(run_wine(help, &out), 0);
    buf_append(&out, "", 1);
    const char *text = (const char *)out.data;
    CHECK_MSG(strstr(text, "hvsock://") && strstr(text, "%ProgramData%") && strstr(text, "sc stop"),
              "%s --help lacks the Windows defaults:\n%s", names[i], text);
    CHECK_MSG(!strstr(text, "SIGHUP") && !strstr(text, "/srv"), "%s --help speaks of Linux:\n%s",
              names[i], text);
    buf_done(&out);
  }
}

/* `reg query KEY` (and /v VALUE when given) under Wine: its exit code; out gets the answer. */
static int reg_query(const char *key, const char *value, struct buf *out) {
  char *args[] = {"reg", "query", (char *)key, value ? "/v" : NULL, (char *)value, NULL};
  out->len = 0;
  int rc = run_wine(args, out);
  buf_append(out, "", 1);
  return rc;
}

/* The installers built with wixl (cmake/package-msi.cmake), through Wine's msiexec: each puts
 * its programs under Program Files\gpupv and registers its service and keys; uninstalling
 * leaves none of it. */
TEST(e2e_wine_msi_install_and_uninstall) {
  use_wine_prefix();
  static const char *gcs_key =
      "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"
      "GuestCommunicationServices\\{00004750-facb-11e6-bd58-64006a7986d3}";
  static const struct {
    const char *msi, *service, *exes[2], *config;
  } packages[] = {
      {"gpupv-host.msi", "gpupv-hostd", {"gpupv-hostd.exe", "gpupv.exe"}, "hostd.json"},
      {"gpupv-guest.msi", "gpupv-guestd", {"gpupv-guestd.exe", NULL}, "guestd.json"},
  };
  char path[1100], key[300], msi[1200];
  struct buf out;
  buf_init(&out);
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", GPUPV_WIN_BUILD_DIR, packages[i].msi);
    CHECK_MSG(fs_exists(path), "%s is not built (scripts/win-build.sh installs wixl)", path);
    snprintf(msi, sizeof msi, "Z:%s", path);
    char *install[] = {"msiexec", "/i", msi, "/qn", NULL};
    CHECK_EQ_INT(run_wine(install, &out), 0);
    for (int e = 0; e < 2 && packages[i].exes[e]; e++) {
      snprintf(path, sizeof path, "%s/drive_c/Program Files/gpupv/%s", GPUPV_WINEPREFIX,
               packages[i].exes[e]);
      CHECK_MSG(fs_exists(path), "%s installed no %s", packages[i].msi, path);
    }
    snprintf(path, sizeof path, "%s/drive_c/ProgramData/gpupv/%s", GPUPV_WINEPREFIX,
             packages[i].config);
    CHECK_MSG(fs_exists(path), "%s installed no %s", packages[i].msi, path);
    snprintf(key, sizeof key, "HKLM\\SYSTEM\\CurrentControlSet\\Services\\%s", packages[i].service);
    /* Wine's msiexec registers the program path unquoted; the service, started by the
     * install, quotes its own (service-path.h) */
    uint64_t deadline = uv_hrtime() + 30ull * 1000000000;
    for (;;) {
      CHECK_EQ_INT(reg_query(key, "ImagePath", &out), 0);
      if (strstr((char *)out.data, "\"C:\\Program Files\\gpupv\\"))
        break;
      CHECK_MSG(uv_hrtime() < deadline, "%s: the service never quoted its ImagePath: %s",
                packages[i].msi, (char *)out.data);
      poll(NULL, 0, 100);
    }
    CHECK_MSG(strstr((char *)out.data, "Program Files\\gpupv\\") &&
                  strstr((char *)out.data, "--service --config") &&
                  strstr((char *)out.data, packages[i].config),
              "%s: ImagePath %s", packages[i].msi, (char *)out.data);
    CHECK_EQ_INT(reg_query(key, "Start", &out), 0);
    CHECK_MSG(strstr((char *)out.data, "0x2"), "not an automatic start: %s", (char *)out.data);
    snprintf(key, sizeof key,
             "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\%s",
             packages[i].service);
    CHECK_EQ_INT(reg_query(key, "EventMessageFile", &out), 0);
    if (i == 0) {
      CHECK_EQ_INT(reg_query(gcs_key, "ElementName", &out), 0);
      CHECK_MSG(strstr((char *)out.data, "gpupv host agent"), "%s", (char *)out.data);
    }

    char *uninstall[] = {"msiexec", "/x", msi, "/qn", NULL};
    CHECK_EQ_INT(run_wine(uninstall, &out), 0);
    snprintf(key, sizeof key, "HKLM\\SYSTEM\\CurrentControlSet\\Services\\%s", packages[i].service);
    CHECK_MSG(reg_query(key, NULL, &out) != 0, "%s left its service", packages[i].msi);
    snprintf(key, sizeof key,
             "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\%s",
             packages[i].service);
    CHECK_MSG(reg_query(key, NULL, &out) != 0, "%s left its Event Log source", packages[i].msi);
    CHECK_MSG(reg_query(gcs_key, NULL, &out) != 0, "%s left the Hyper-V socket service key",
              packages[i].msi);
    snprintf(path, sizeof path, "%s/drive_c/Program Files/gpupv", GPUPV_WINEPREFIX);
    CHECK_MSG(!fs_exists(path), "%s left %s", packages[i].msi, path);
    snprintf(path, sizeof path, "%s/drive_c/ProgramData/gpupv/%s", GPUPV_WINEPREFIX,
             packages[i].config);
    CHECK_MSG(!fs_exists(path), "%s left %s", packages[i].msi, path);
  }
  buf_done(&out);
}

/* An offline bundle from the Linux host (gzip: the Windows build's libarchive has no zstd),
 * installed by the Windows guest into the prefix's HostDriverStore with no connection; a
 * zstd one is refused with the reason. */
TEST(e2e_wine_guest_installs_a_bundle) {
  use_wine_prefix();
  const char *src = test_path("src");
  CHECK(fixture_make(src, &small) == 0);
  struct proc host;
  agents_start_host(&host, src, NULL, NULL);
  char *gz[] = {"gpupv",         "--control", (char *)agents_control_uri(),
                "bundle",        "--out",     (char *)test_path("win.bundle"),
                "--compression", "gzip",      NULL};
  run_quiet(gz);
  char *zst[] = {"gpupv",  "--control", (char *)agents_control_uri(),
                 "bundle", "--out",     (char *)test_path("win.bundle.zst"),
                 NULL};
  run_quiet(zst);
  proc_stop(&host);

  char *state = z_path(test_path("wine-guest-state"));
  char *zst_bundle = z_path(test_path("win.bundle.zst"));
  char *no_zstd[] = {
      WINE, (char *)win_exe("gpupv-guestd"), "--install-bundle", zst_bundle, "--state-dir", state,
      NULL};
  struct buf out, err;
  CHECK_MSG(agents_run(no_zstd, &out, &err) == 1, "the Windows guest installed a zstd bundle");
  CHECK_MSG(err.data && strstr((char *)err.data, "--compression gzip"),
            "the refusal does not say what to do: %s", err.data ? (char *)err.data : "");
  buf_done(&err);
  char *bundle = z_path(test_path("win.bundle"));
  char *install[] = {
      (char *)win_exe("gpupv-guestd"), "--install-bundle", bundle, "--state-dir", state, NULL};
  out.len = 0;
  CHECK_EQ_INT(run_wine(install, &out), 0);
  buf_append(&out, "", 1);
  CHECK_MSG(strstr((char *)out.data, "installed generation"), "%s", (char *)out.data);
  char why[512], store[1024];
  CHECK_MSG(repository_is(src, why, sizeof why), "FileRepository differs from the host: %s", why);
  /* again: everything is there already */
  out.len = 0;
  CHECK_EQ_INT(run_wine(install, &out), 0);
  buf_append(&out, "", 1);
  CHECK_MSG(strstr((char *)out.data, " 0 blobs (0 bytes) taken"), "%s", (char *)out.data);
  buf_done(&out);
  snprintf(store, sizeof store, "%s/drive_c/windows/system32/HostDriverStore", GPUPV_WINEPREFIX);
  fs_remove_tree(store);
  free(bundle);
  free(zst_bundle);
  free(state);
}

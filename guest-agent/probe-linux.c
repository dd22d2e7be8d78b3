#include "guest-agent/probe.h"

#include "guest-agent/adapters.h"
#include "guest-agent/checks.h"

#include "common/buf.h"
#include "common/fs.h"
#include "common/path.h"
#include "common/text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 5000
#define PROBE_OUTPUT_MAX (1u << 20) /* ldconfig -p of a large system */

/* GPU-PV's VMBus device classes: the host's GPU offered as a whole, and per virtual GPU */
static const char *const vmbus_gpu_classes[] = {"dde9cbc0-5060-4436-9448-ea1254a5d177",
                                                "6e382d18-3336-4f4b-acc4-2b7703d4df4a"};

/* path under root ("/" is the system itself). */
static void at_root(const char *root, const char *path, char *out, size_t size) {
  snprintf(out, size, "%s%s", strcmp(root, "/") == 0 ? "" : root, path);
}

static long elapsed_ms(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Runs tool with args; its output (at most PROBE_OUTPUT_MAX) in out, "" when it fails or
 * hangs past PROBE_TIMEOUT_MS. */
static void run_output(const char *tool, char *const argv[], struct buf *out) {
  int fds[2];
  out->len = 0;
  if (pipe2(fds, O_CLOEXEC) != 0)
    return;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    execv(tool, argv);
    _exit(127);
  }
  close(fds[1]);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    long left = PROBE_TIMEOUT_MS - elapsed_ms(&start);
    struct pollfd p = {fds[0], POLLIN, 0};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0 || buf_reserve(out, 65536 + 1))
      break;
    ssize_t n = read(fds[0], out->data + out->len, 65536);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out->len += (size_t)n;
    if (out->len >= PROBE_OUTPUT_MAX)
      break;
  }
  close(fds[0]);
  kill(pid, SIGKILL); /* harmless when it already exited */
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (buf_reserve(out, 1) == 0)
    out->data[out->len] = 0;
}

/* The first line tool prints, cleaned, or "". */
static void run_first_line(const char *tool, char *const argv[], char *out, size_t size) {
  struct buf text;
  buf_init(&text);
  run_output(tool, argv, &text);
  out[0] = 0;
  if (text.len) {
    char *t = (char *)text.data;
    t[strcspn(t, "\r\n")] = 0;
    text_copy(out, size, t);
  }
  buf_done(&text);
}

static int file_has(const char *path, const char *needle) {
  struct buf text;
  buf_init(&text);
  int found = fs_read_file(path, 16u << 20, &text) == 0 && text.len &&
              strstr((const char *)text.data, needle) != NULL;
  buf_done(&text);
  return found;
}

/* ---- vmbus_gpu ---- */

static void check_vmbus(cJSON *o, const char *root) {
  char dir[1100];
  at_root(root, "/sys/bus/vmbus/devices", dir, sizeof dir);
  char **names;
  size_t n;
  if (fs_list_dir(dir, &names, &n) != 0) {
    checks_add(o, "vmbus_gpu", CHECK_FAIL,
               "no VMBus: this is not a Hyper-V VM, and GPU-PV needs one",
               "run the VM under Hyper-V (or NanaBox) with a GPU partition");
    return;
  }
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) {
    char path[1500];
    snprintf(path, sizeof path, "%s/%s/class_id", dir, names[i]);
    for (int c = 0; c < 2 && !found; c++)
      found = file_has(path, vmbus_gpu_classes[c]);
  }
  fs_names_free(names, n);
  if (found)
    checks_add(o, "vmbus_gpu", CHECK_OK, "the host assigned a GPU (a GPU-PV VMBus device)", NULL);
  else
    checks_add(o, "vmbus_gpu", CHECK_FAIL, "the host assigned no GPU to this VM",
               "on the host: Add-VMGpuPartitionAdapter -VMName <vm> (NanaBox: gpupv nanabox "
               "FILE --mode Default), then restart the VM");
}

/* ---- dxgkrnl, and the next kernel ---- */

/* 1 when kernel release rel under root has a dxgkrnl module (built in, in modules.dep, or
 * put there by DKMS and not yet indexed). */
static int kernel_has_dxgkrnl(const char *root, const char *rel) {
  static const char *const places[] = {"modules.builtin", "modules.dep"};
  static const char *const files[] = {"updates/dkms/dxgkrnl.ko",     "updates/dkms/dxgkrnl.ko.xz",
                                      "updates/dkms/dxgkrnl.ko.zst", "extra/dxgkrnl.ko",
                                      "extra/dxgkrnl.ko.xz",         "extra/dxgkrnl.ko.zst"};
  char path[1400], rel_dir[400];
  snprintf(rel_dir, sizeof rel_dir, "/lib/modules/%.300s/", rel);
  for (size_t i = 0; i < 2; i++) {
    char sub[800];
    snprintf(sub, sizeof sub, "%s%s", rel_dir, places[i]);
    at_root(root, sub, path, sizeof path);
    if (file_has(path, "/dxgkrnl.ko"))
      return 1;
  }
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char sub[800];
    snprintf(sub, sizeof sub, "%s%s", rel_dir, files[i]);
    at_root(root, sub, path, sizeof path);
    if (fs_exists(path))
      return 1;
  }
  return 0;
}

static int dxgkrnl_loaded(const char *root) {
  char path[1100];
  at_root(root, "/sys/module/dxgkrnl", path, sizeof path);
  if (fs_exists(path))
    return 1;
  return strcmp(root, "/") == 0 && file_has("/proc/modules", "\ndxgkrnl ");
}

static int check_dxgkrnl(cJSON *o, const char *root, const char *rel, int dxg_opens) {
  /* a kernel with dxgkrnl built in may list no module: its device says it is there */
  int loaded = dxgkrnl_loaded(root) || dxg_opens, built = kernel_has_dxgkrnl(root, rel);
  char detail[600], fix[600], dkms[200] = "";
  if (strcmp(root, "/") == 0 && access("/usr/sbin/dkms", X_OK) == 0) {
    char *const argv[] = {"dkms", "status", "dxgkrnl", NULL};
    run_first_line("/usr/sbin/dkms", argv, dkms, sizeof dkms);
  }
  if (loaded) {
    snprintf(detail, sizeof detail, "loaded%s%s", *dkms ? "; dkms: " : "", dkms);
    checks_add(o, "dxgkrnl", CHECK_OK, detail, NULL);
  } else if (built) {
    snprintf(detail, sizeof detail, "not loaded, though kernel %s has the module", rel);
    checks_add(o, "dxgkrnl", CHECK_FAIL, detail, "modprobe dxgkrnl");
  } else {
    snprintf(detail, sizeof detail, "not loaded, and kernel %s has no dxgkrnl module%s%s", rel,
             *dkms ? "; dkms: " : "", dkms);
    snprintf(fix, sizeof fix,
             "build dxgkrnl for %s (the dxgkrnl DKMS package: dkms autoinstall -k %s), or boot a "
             "kernel that has it, then modprobe dxgkrnl",
             rel, rel);
    checks_add(o, "dxgkrnl", CHECK_FAIL, detail, fix);
  }
  return loaded;
}

/* A kernel newer than the running one without dxgkrnl: the GPU goes at the next reboot. */
static void check_next_kernel(cJSON *o, const char *root, const char *rel) {
  char dir[1100];
  at_root(root, "/lib/modules", dir, sizeof dir);
  char **names;
  size_t n;
  if (fs_list_dir(dir, &names, &n) != 0)
    return;
  const char *newest = NULL;
  for (size_t i = 0; i < n; i++)
    if (strverscmp(names[i], rel) > 0 && !kernel_has_dxgkrnl(root, names[i]) &&
        (!newest || strverscmp(names[i], newest) > 0))
      newest = names[i];
  char detail[600], fix[600];
  if (newest) {
    snprintf(detail, sizeof detail,
             "after the next reboot into %s the GPU disappears: it has no dxgkrnl module", newest);
    snprintf(fix, sizeof fix, "build dxgkrnl for %s before rebooting: dkms autoinstall -k %s",
             newest, newest);
    checks_add(o, "dxgkrnl_next_kernel", CHECK_WARN, detail, fix);
  } else {
    checks_add(o, "dxgkrnl_next_kernel", CHECK_OK,
               "no installed kernel newer than the running one lacks dxgkrnl", NULL);
  }
  fs_names_free(names, n);
}

/* ---- /dev/dxg ---- */

static int check_dev_dxg(cJSON *o, const char *root) {
  char path[1100], detail[300];
  at_root(root, "/dev/dxg", path, sizeof path);
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) {
    close(fd);
    checks_add(o, "dev_dxg", CHECK_OK, "/dev/dxg opens", NULL);
    return 1;
  }
  int e = errno;
  snprintf(detail, sizeof detail, "/dev/dxg does not open: %s", strerror(e));
  checks_add(o, "dev_dxg", CHECK_FAIL, detail,
             e == ENOENT ? "load dxgkrnl (modprobe dxgkrnl): the device comes with it"
                         : "run gpupv-guestd as root, or give its user access to /dev/dxg");
  return 0;
}

/* ---- the WSL libraries ---- */

/* Where ldconfig's cache resolves lib ("" when it does not), from ldconfig -p output. */
static void resolved(const char *cache, const char *lib, char *out, size_t size) {
  out[0] = 0;
  char key[128];
  snprintf(key, sizeof key, "\t%s ", lib);
  const char *line = cache ? strstr(cache, key) : NULL;
  const char *arrow = line ? strstr(line, "=> ") : NULL;
  if (!arrow)
    return;
  arrow += 3;
  size_t len = strcspn(arrow, "\n");
  snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), arrow);
}

static void check_libs(cJSON *o, const char *root) {
  static const char *const libs[] = {"libdxcore.so", "libd3d12.so", "libcuda.so.1"};
  char dir[1100], path[1300], conf[1100];
  at_root(root, "/usr/lib/wsl/lib", dir, sizeof dir);
  at_root(root, "/etc/ld.so.conf.d/ld.wsl.conf", conf, sizeof conf);
  snprintf(path, sizeof path, "%s/libdxcore.so", dir);
  if (!fs_exists(path)) {
    checks_add(o, "libs", CHECK_FAIL, "libdxcore.so is not installed in /usr/lib/wsl/lib",
               "on the host: publish the WSL libraries (--lib-packaged or --wsl-msix; wsl "
               "--update installs them), then gpupv push");
    return;
  }
  if (!file_has(conf, "/usr/lib/wsl/lib")) {
    checks_add(o, "libs", CHECK_FAIL, "ld.wsl.conf does not name /usr/lib/wsl/lib",
               "restart gpupv-guestd: it writes /etc/ld.so.conf.d/ld.wsl.conf and runs ldconfig");
    return;
  }
  if (strcmp(root, "/") != 0) { /* the loader's cache is the system's, not this root's */
    checks_add(o, "libs", CHECK_OK, "installed, and ld.wsl.conf names them", NULL);
    return;
  }
  struct buf cache;
  buf_init(&cache);
  char *const argv[] = {"ldconfig", "-p", NULL};
  run_output(access("/sbin/ldconfig", X_OK) == 0 ? "/sbin/ldconfig" : "/usr/sbin/ldconfig", argv,
             &cache);
  char detail[900] = "", where[600];
  int bad = 0;
  for (size_t i = 0; i < sizeof libs / sizeof *libs && !bad; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, libs[i]);
    if (!fs_exists(path))
      continue; /* libcuda.so.1 only where the vendor publishes it */
    resolved(cache.len ? (const char *)cache.data : NULL, libs[i], where, sizeof where);
    if (strncmp(where, "/usr/lib/wsl/lib/", 17) != 0) {
      snprintf(detail, sizeof detail, "%s resolves to %s, not /usr/lib/wsl/lib", libs[i],
               *where ? where : "nothing");
      bad = 1;
    }
  }
  buf_done(&cache);
  if (bad)
    checks_add(o, "libs", CHECK_FAIL, detail,
               "remove the distribution's copy, or make ld.wsl.conf sort first in "
               "/etc/ld.so.conf.d, then run ldconfig");
  else
    checks_add(o, "libs", CHECK_OK, "the loader resolves them to /usr/lib/wsl/lib", NULL);
}

/* ---- adapters: what the host's driver expects ---- */

static const char *helper_exe;

void probe_set_helper(const char *exe) {
  helper_exe = exe;
}

void probe_after_install(cJSON *status) {
  (void)status; /* no device to restart: dxgkrnl loads the new files as they are opened */
}

static void check_adapters(cJSON *o, const char *root) {
  char lib[1200], detail[1400], fix[700];
  at_root(root, "/usr/lib/wsl/lib/libdxcore.so", lib, sizeof lib);
  if (!helper_exe || !fs_exists(lib))
    return; /* libs says it is missing */
  struct buf out;
  buf_init(&out);
  char *const argv[] = {"gpupv-guestd", "--adapters", "--root", (char *)root, NULL};
  run_output(helper_exe, argv, &out);
  cJSON *r = out.len ? cJSON_ParseWithLength((const char *)out.data, out.len) : NULL;
  buf_done(&out);
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "adapters"), *a;
  if (!r || cJSON_IsString(err)) {
    snprintf(detail, sizeof detail, "libdxcore.so cannot list the adapters: %.600s",
             cJSON_IsString(err) ? err->valuestring : "it crashed or hung");
    checks_add(o, "adapters", CHECK_FAIL, detail,
               "publish the WSL package's libraries on the host (wsl --update), then gpupv push");
  } else if (!cJSON_GetArraySize(list)) {
    checks_add(o, "adapters", CHECK_FAIL, "the driver interface lists no GPU adapter",
               "check vmbus_gpu, dxgkrnl and dev_dxg first");
  }
  cJSON_ArrayForEach(a, list) {
    const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(a, "package");
    const cJSON *wddm = cJSON_GetObjectItemCaseSensitive(a, "wddm");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(a, "error");
    char dir[1500], where[600];
    const char *reason; /* from a library the host published: one folder name, or nothing */
    if (!cJSON_IsString(pkg) || path_check_component(pkg->valuestring, &reason)) {
      snprintf(detail, sizeof detail, "an adapter names no driver-store folder: %.600s",
               cJSON_IsString(why) ? why->valuestring : "no path");
      checks_add(o, "adapters", CHECK_FAIL, detail,
                 "update the host's GPU driver (WDDM 2.8 or later), then gpupv push");
      continue;
    }
    snprintf(where, sizeof where, "/usr/lib/wsl/drivers/%.300s", pkg->valuestring);
    at_root(root, where, dir, sizeof dir);
    int installed = fs_is_dir(dir);
    int old = cJSON_IsNumber(wddm) && wddm->valuedouble < ADAPTERS_WDDM_MIN;
    if (!installed) {
      snprintf(detail, sizeof detail, "the adapter expects %s, which is not installed", where);
      snprintf(fix, sizeof fix,
               "gpupv push from the host; if it still lacks %.300s, publish that package "
               "(the host's driver changed: --package, or --discover)",
               pkg->valuestring);
      checks_add(o, "adapters", CHECK_FAIL, detail, fix);
    } else if (old) {
      snprintf(detail, sizeof detail, "the adapter expects %s (installed), but its WDDM is %.0f",
               where, wddm->valuedouble);
      checks_add(o, "adapters", CHECK_WARN, detail,
                 "update the host's GPU driver to WDDM 2.8 or later for CUDA");
    } else {
      snprintf(detail, sizeof detail, "the adapter expects %s: installed", where);
      checks_add(o, "adapters", CHECK_OK, detail, NULL);
    }
  }
  cJSON_Delete(r);
}

/* ---- nvidia-smi ---- */

static void check_nvidia_smi(cJSON *o, const char *root, char *version, size_t size) {
  char smi[1200], detail[200];
  version[0] = 0;
  at_root(root, "/usr/lib/wsl/lib/nvidia-smi", smi, sizeof smi);
  if (access(smi, X_OK) != 0)
    return; /* not an NVIDIA driver, or not published */
  char *const argv[] = {smi, "--query-gpu=driver_version", "--format=csv,noheader", NULL};
  run_first_line(smi, argv, version, size);
  if (*version) {
    snprintf(detail, sizeof detail, "driver %s", version);
    checks_add(o, "nvidia_smi", CHECK_OK, detail, NULL);
  } else {
    checks_add(o, "nvidia_smi", CHECK_WARN, "nvidia-smi is installed but does not answer",
               "check dxgkrnl and /dev/dxg first; then that libcuda.so.1 resolves to "
               "/usr/lib/wsl/lib");
  }
}

/* ---- Vulkan over D3D12 (Mesa's Dozen), where vulkaninfo is installed ---- */

static void check_vulkan(cJSON *o, const char *root) {
  char tool[1200];
  at_root(root, "/usr/bin/vulkaninfo", tool, sizeof tool);
  if (access(tool, X_OK) != 0)
    return; /* optional: no vulkaninfo, no check */
  struct buf out;
  buf_init(&out);
  char *const argv[] = {"vulkaninfo", "--summary", NULL};
  run_output(tool, argv, &out);
  int dozen = out.len && strstr((const char *)out.data, "driverName") &&
              strstr((const char *)out.data, "Dozen");
  buf_done(&out);
  if (dozen)
    checks_add(o, "vulkan", CHECK_OK, "Vulkan runs over D3D12 (Mesa's Dozen driver)", NULL);
  else
    checks_add(o, "vulkan", CHECK_WARN, "vulkaninfo lists no Vulkan device over D3D12 (Dozen)",
               "install a Mesa with the Dozen driver (mesa-vulkan-drivers 23.2 or later)");
}

cJSON *probe_gpu(const char *root) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  struct utsname u;
  const char *rel = uname(&u) == 0 ? u.release : "?";
  check_vmbus(o, root);
  char dev[1100];
  at_root(root, "/dev/dxg", dev, sizeof dev);
  int fd = open(dev, O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0)
    close(fd);
  int loaded = check_dxgkrnl(o, root, rel, fd >= 0);
  check_next_kernel(o, root, rel);
  int dxg = check_dev_dxg(o, root);
  check_libs(o, root);
  check_adapters(o, root);
  char version[64];
  check_nvidia_smi(o, root, version, sizeof version);
  check_vulkan(o, root);
  /* the facts of before, for readers of the previous release */
  cJSON_AddBoolToObject(o, "dxg", dxg);
  cJSON_AddBoolToObject(o, "dxgkrnl", loaded);
  cJSON_AddItemToObject(o, "nvidia_smi",
                        version[0] ? cJSON_CreateString(version) : cJSON_CreateNull());
  cJSON_AddStringToObject(o, "kernel", rel);
  cJSON_AddStringToObject(o, "os", "linux");
  checks_finish(o);
  return o;
}

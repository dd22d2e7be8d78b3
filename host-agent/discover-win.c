/*
 * Source discovery on a Windows host (discover.h). Each partitionable GPU is a device with an
 * interface of class {064092b3-625e-43bf-9eb5-dc845897dd59}; its driver key (DIREG_DRV) names
 * the driver's INF (InfPath, like oem42.inf), which SetupGetInfDriverStoreLocation resolves
 * to the INF inside its DriverStore package folder. That folder, under its exact name, is a
 * package to publish. Folder names are never guessed: NVIDIA's alone vary.
 */
#include "host-agent/discover.h"

#include "common/path.h"
#include "common/win-text.h"
#include "host-agent/companions.h"
#include "host-agent/registry-copy-win.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <windows.h>
/* after windows.h, which they need */
#include <initguid.h>
#include <setupapi.h>

DEFINE_GUID(GPUPV_GUID_PARTITIONABLE_GPU, 0x064092b3, 0x625e, 0x43bf, 0x9e, 0xb5, 0xdc, 0x84, 0x58,
            0x97, 0xdd, 0x59);

/* SetupGetInfDriverStoreLocationW, which mingw's setupapi.h does not declare */
BOOL WINAPI SetupGetInfDriverStoreLocationW(PCWSTR FileName, PSP_ALTPLATFORM_INFO Platform,
                                            PCWSTR LocaleName, PWSTR ReturnBuffer,
                                            DWORD ReturnBufferSize, PDWORD RequiredSize);

int discover_available(void) {
  return 1;
}

/* A REG_SZ value of key, or NULL. */
static wchar_t *reg_string(HKEY key, const wchar_t *name) {
  DWORD type, size = 0;
  if (RegQueryValueExW(key, name, NULL, &type, NULL, &size) != ERROR_SUCCESS ||
      (type != REG_SZ && type != REG_EXPAND_SZ) || size == 0 || size > 65536)
    return NULL;
  wchar_t *v = calloc(size / sizeof *v + 1, sizeof *v);
  if (v && RegQueryValueExW(key, name, NULL, NULL, (BYTE *)v, &size) != ERROR_SUCCESS) {
    free(v);
    v = NULL;
  }
  return v;
}

/* Keeps the driver key's CopyToVm lists for package (the first GPU with it wins). */
static void add_lists(struct discovery *d, HKEY driver, const char *package) {
  for (size_t i = 0; i < d->nlists; i++)
    if (strcmp(d->lists[i].package, package) == 0)
      return;
  struct inf_copy *list;
  size_t n;
  if (registry_read_copy_to_vm(driver, &list, &n))
    return;
  struct package_copy_list *more = n ? realloc(d->lists, (d->nlists + 1) * sizeof *more) : NULL;
  if (!more) {
    free(list);
    return;
  }
  d->lists = more;
  struct package_copy_list *l = &d->lists[d->nlists++];
  snprintf(l->package, sizeof l->package, "%s", package);
  l->list = list;
  l->n = n;
  d->copy_to_vm += n;
}

/* Adds the package folder of one GPU's driver to d. */
static void add_device(struct discovery *d, HDEVINFO set, SP_DEVINFO_DATA *dev) {
  HKEY key = SetupDiOpenDevRegKey(set, dev, DICS_FLAG_GLOBAL, 0, DIREG_DRV, KEY_READ);
  if (key == INVALID_HANDLE_VALUE)
    return;
  wchar_t *inf = reg_string(key, L"InfPath");
  wchar_t where[MAX_PATH];
  DWORD need = 0;
  char *path = NULL;
  if (inf && SetupGetInfDriverStoreLocationW(inf, NULL, NULL, where, MAX_PATH, &need))
    path = win_utf8(where);
  free(inf);
  /* ...\FileRepository\<package>\<name>.inf */
  char *slash = path ? strrchr(path, '\\') : NULL;
  if (slash) {
    *slash = 0;
    char *package = strrchr(path, '\\');
    const char *reason;
    if (package && path_check_component(package + 1, &reason) == 0) {
      *package = 0;
      int dup = 0;
      for (size_t i = 0; i < d->packages.n && !dup; i++)
        dup = strcmp(d->packages.items[i], package + 1) == 0;
      if (!*d->driver_store)
        snprintf(d->driver_store, sizeof d->driver_store, "%s", path);
      if (!dup && strcmp(d->driver_store, path) == 0)
        strlist_add(&d->packages, package + 1);
      add_lists(d, key, package + 1);
    }
  }
  RegCloseKey(key);
  free(path);
}

/* Sets out to folder when it is a folder. */
static void existing_folder(const char *folder, char *out, size_t size) {
  DWORD attrs;
  wchar_t *w = win_wide_path(folder);
  if (w && (attrs = GetFileAttributesW(w)) != INVALID_FILE_ATTRIBUTES &&
      (attrs & FILE_ATTRIBUTE_DIRECTORY))
    snprintf(out, size, "%s", folder);
  free(w);
}

static void library_folders(struct discovery *d) {
  wchar_t system[MAX_PATH];
  UINT n = GetSystemDirectoryW(system, MAX_PATH);
  char *sys = n && n < MAX_PATH ? win_utf8(system) : NULL;
  char folder[1024];
  if (sys) {
    snprintf(folder, sizeof folder, "%s\\lxss\\lib", sys);
    existing_folder(folder, d->lib_inbox, sizeof d->lib_inbox);
  }
  free(sys);
  const char *programs = getenv("ProgramFiles");
  if (programs && *programs) {
    snprintf(folder, sizeof folder, "%s\\WSL\\lib", programs);
    existing_folder(folder, d->lib_packaged, sizeof d->lib_packaged);
  }
}

int discover_sources(struct discovery *d, char *why, size_t why_size) {
  library_folders(d);
  HDEVINFO set = SetupDiGetClassDevsW(&GPUPV_GUID_PARTITIONABLE_GPU, NULL, NULL,
                                      DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
  if (set == INVALID_HANDLE_VALUE) {
    snprintf(why, why_size, "SetupAPI lists no partitionable GPU (error %lu)",
             (unsigned long)GetLastError());
    return UV_ENOENT;
  }
  SP_DEVICE_INTERFACE_DATA iface = {.cbSize = sizeof iface};
  DWORD gpus = 0;
  for (DWORD i = 0;
       SetupDiEnumDeviceInterfaces(set, NULL, &GPUPV_GUID_PARTITIONABLE_GPU, i, &iface); i++) {
    SP_DEVINFO_DATA dev = {.cbSize = sizeof dev};
    DWORD need = 0;
    SetupDiGetDeviceInterfaceDetailW(set, &iface, NULL, 0, &need, NULL);
    SP_DEVICE_INTERFACE_DETAIL_DATA_W *detail = need >= sizeof *detail ? calloc(1, need) : NULL;
    if (!detail)
      continue;
    detail->cbSize = sizeof *detail;
    /* dev: the device behind the interface, whose driver key names the package */
    if (SetupDiGetDeviceInterfaceDetailW(set, &iface, detail, need, NULL, &dev)) {
      gpus++;
      add_device(d, set, &dev);
    }
    free(detail);
  }
  SetupDiDestroyDeviceInfoList(set);
  if (d->packages.n) /* OpenCL, Vulkan and the like, shipped beside the display driver */
    d->companions = companions_add(d->driver_store, &d->packages);
  if (!d->packages.n) {
    snprintf(why, why_size,
             gpus ? "%lu partitionable GPU(s), but no driver package could be resolved"
                  : "SetupAPI lists no partitionable GPU",
             (unsigned long)gpus);
    return UV_ENOENT;
  }
  return 0;
}

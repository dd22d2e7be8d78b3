/*
 * GPU health of a Windows guest: the adapters DXGI lists, with names and user-mode driver
 * versions. A GPU-PV adapter appears once HostDriverStore holds the host's driver.
 */
#define COBJMACROS
#include "guest-agent/probe.h"

#include "common/fs.h"
#include "common/path.h"
#include "common/win-text.h"
#include "guest-agent/adapters.h"
#include "guest-agent/checks.h"

#include <dxgi.h>
#include <initguid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* after windows.h, which they need */
#include <cfgmgr32.h>
#include <devguid.h>
#include <setupapi.h>

/* Microsoft Basic Render Driver: present without any GPU */
#define BASIC_RENDER_VENDOR 0x1414
#define BASIC_RENDER_DEVICE 0x8c

static cJSON *adapter_json(IDXGIAdapter1 *adapter, int *ret_is_gpu) {
  DXGI_ADAPTER_DESC1 desc;
  *ret_is_gpu = 0;
  if (FAILED(IDXGIAdapter1_GetDesc1(adapter, &desc)))
    return NULL;
  cJSON *a = cJSON_CreateObject();
  if (!a)
    return NULL;
  char *name = win_utf8(desc.Description);
  cJSON_AddStringToObject(a, "name", name ? name : "?");
  free(name);
  char id[16];
  snprintf(id, sizeof id, "%04x", (unsigned)desc.VendorId);
  cJSON_AddStringToObject(a, "vendor_id", id);
  snprintf(id, sizeof id, "%04x", (unsigned)desc.DeviceId);
  cJSON_AddStringToObject(a, "device_id", id);
  LARGE_INTEGER umd;
  if (SUCCEEDED(IDXGIAdapter1_CheckInterfaceSupport(adapter, &IID_IDXGIDevice, &umd))) {
    char version[64];
    snprintf(version, sizeof version, "%u.%u.%u.%u", (unsigned)(umd.HighPart >> 16),
             (unsigned)(umd.HighPart & 0xffff), (unsigned)(umd.LowPart >> 16),
             (unsigned)(umd.LowPart & 0xffff));
    cJSON_AddStringToObject(a, "driver_version", version);
  } else {
    cJSON_AddNullToObject(a, "driver_version");
  }
  int software = (desc.Flags & DXGI_ADAPTER_FLAG_SOFTWARE) ||
                 (desc.VendorId == BASIC_RENDER_VENDOR && desc.DeviceId == BASIC_RENDER_DEVICE);
  cJSON_AddBoolToObject(a, "software", software);
  *ret_is_gpu = !software;
  return a;
}

/* A local adapter's driver (the basic render and display drivers), not a GPU-PV one. */
static int local_driver(const char *package) {
  return _strnicmp(package, "basicrender", 11) == 0 || _strnicmp(package, "basicdisplay", 12) == 0;
}

/* What the host's driver expects: each GPU-PV adapter's driver-store folder (D3DKMT through
 * gdi32; the host's \DriverStore\ and the guest's \HostDriverStore\ forms both name it) must be
 * a package folder in ROOT\HostDriverStore\FileRepository. */
static void check_adapters(cJSON *o, const char *root) {
  cJSON *r = adapters_query(NULL);
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error"), *a;
  char detail[1400], fix[700];
  if (!r || cJSON_IsString(err)) {
    snprintf(detail, sizeof detail, "D3DKMT cannot list the adapters: %.600s",
             cJSON_IsString(err) ? err->valuestring : "out of memory");
    /* no GPU-PV adapter can be confirmed without it (Windows 10 and later have it) */
    checks_add(o, "adapters", CHECK_FAIL, detail,
               "a Windows 10 or later guest is needed for GPU-PV (gdi32's D3DKMT calls)");
    cJSON_Delete(r);
    return;
  }
  int gpupv = 0;
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "adapters")) {
    const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(a, "package");
    const cJSON *wddm = cJSON_GetObjectItemCaseSensitive(a, "wddm");
    const char *reason; /* one folder name, or not a package of ours */
    if (!cJSON_IsString(pkg) || path_check_component(pkg->valuestring, &reason) ||
        local_driver(pkg->valuestring))
      continue;
    gpupv++;
    char dir[1500];
    snprintf(dir, sizeof dir, "%s/HostDriverStore/FileRepository/%.300s", root, pkg->valuestring);
    if (!fs_is_dir(dir)) {
      snprintf(detail, sizeof detail,
               "the adapter expects HostDriverStore\\FileRepository\\%s, which is not installed",
               pkg->valuestring);
      snprintf(fix, sizeof fix,
               "gpupv push from the host; if it still lacks %.300s, publish that package",
               pkg->valuestring);
      checks_add(o, "adapters", CHECK_FAIL, detail, fix);
    } else if (cJSON_IsNumber(wddm) && wddm->valuedouble < ADAPTERS_WDDM_MIN) {
      snprintf(detail, sizeof detail, "the adapter's driver (%s) is WDDM %.0f", pkg->valuestring,
               wddm->valuedouble);
      checks_add(o, "adapters", CHECK_WARN, detail,
                 "update the host's GPU driver to WDDM 2.8 or later for CUDA");
    } else {
      snprintf(detail, sizeof detail,
               "the adapter expects HostDriverStore\\FileRepository\\%s: "
               "installed",
               pkg->valuestring);
      checks_add(o, "adapters", CHECK_OK, detail, NULL);
    }
  }
  if (!gpupv)
    checks_add(o, "adapters", CHECK_FAIL, "no GPU-PV adapter: only local display drivers",
               "on the host: Add-VMGpuPartitionAdapter -VMName <vm> (NanaBox: gpupv nanabox FILE "
               "--mode Default), then restart the VM");
  cJSON_Delete(r);
}

/* The Microsoft Virtual Render Driver's device, or 0 when there is none. */
static DEVINST render_device(void) {
  HDEVINFO set = SetupDiGetClassDevsW(&GUID_DEVCLASS_DISPLAY, NULL, NULL, DIGCF_PRESENT);
  DEVINST found = 0;
  if (set == INVALID_HANDLE_VALUE)
    return 0;
  SP_DEVINFO_DATA dev = {.cbSize = sizeof dev};
  for (DWORD i = 0; !found && SetupDiEnumDeviceInfo(set, i, &dev); i++) {
    wchar_t desc[256];
    if (SetupDiGetDeviceRegistryPropertyW(set, &dev, SPDRP_DEVICEDESC, NULL, (BYTE *)desc,
                                          sizeof desc, NULL) &&
        wcsstr(desc, L"Virtual Render"))
      found = dev.DevInst;
  }
  SetupDiDestroyDeviceInfoList(set);
  return found;
}

/* Code 43: "Windows has stopped this device because it has reported problems" */
#define PROBLEM_CODE_43 43

static void check_render_device(cJSON *o) {
  DEVINST dev = render_device();
  ULONG status = 0, problem = 0;
  if (!dev || CM_Get_DevNode_Status(&status, &problem, dev, 0) != CR_SUCCESS)
    return; /* no GPU-PV render device: adapters says so */
  char detail[200];
  if (!(status & DN_HAS_PROBLEM)) {
    checks_add(o, "render_device", CHECK_OK, "the Virtual Render Driver is working", NULL);
    return;
  }
  snprintf(detail, sizeof detail, "the Virtual Render Driver reports problem code %lu%s",
           (unsigned long)problem, problem == PROBLEM_CODE_43 ? " (Code 43)" : "");
  checks_add(o, "render_device", CHECK_FAIL, detail,
             problem == PROBLEM_CODE_43
                 ? "the guest's driver files differ from the host's: gpupv push, then restart "
                   "the VM if it stays"
                 : "see the device in Device Manager");
}

void probe_after_install(cJSON *status) {
  /* a render device that stopped with Code 43 before the new driver was there gets another
   * start now, as App Sandbox does, so that the new files load without a restart */
  DEVINST dev = render_device();
  ULONG st = 0, problem = 0;
  if (!status || !dev || CM_Get_DevNode_Status(&st, &problem, dev, 0) != CR_SUCCESS ||
      !(st & DN_HAS_PROBLEM) || problem != PROBLEM_CODE_43)
    return;
  int ok = CM_Disable_DevNode(dev, CM_DISABLE_UI_NOT_OK) == CR_SUCCESS &&
           CM_Enable_DevNode(dev, 0) == CR_SUCCESS;
  int fixed =
      ok && CM_Get_DevNode_Status(&st, &problem, dev, 0) == CR_SUCCESS && !(st & DN_HAS_PROBLEM);
  checks_add(status, "render_device_restart", fixed ? CHECK_OK : CHECK_FAIL,
             fixed ? "the Virtual Render Driver had Code 43 and works after a restart of the "
                     "device"
                   : "the Virtual Render Driver still reports Code 43 after a restart of the "
                     "device",
             "restart the VM; if it stays, the host's and the guest's driver differ");
  checks_finish(status);
}

void probe_set_helper(const char *exe) {
  (void)exe; /* DXGI is asked in this process */
}

cJSON *probe_gpu(const char *root) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "os", "windows");
  cJSON *list = cJSON_AddArrayToObject(o, "adapters");
  int gpus = 0;
  IDXGIFactory1 *factory = NULL;
  if (SUCCEEDED(CreateDXGIFactory1(&IID_IDXGIFactory1, (void **)&factory))) {
    IDXGIAdapter1 *adapter;
    for (UINT i = 0; IDXGIFactory1_EnumAdapters1(factory, i, &adapter) == S_OK; i++) {
      int is_gpu;
      cJSON *a = adapter_json(adapter, &is_gpu);
      if (a)
        cJSON_AddItemToArray(list, a);
      gpus += is_gpu;
      IDXGIAdapter1_Release(adapter);
    }
    IDXGIFactory1_Release(factory);
  } else {
    cJSON_AddStringToObject(o, "error", "DXGI is not available");
  }
  OSVERSIONINFOW v = {.dwOSVersionInfoSize = sizeof v};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (GetVersionExW(&v)) {
#pragma GCC diagnostic pop
    char kernel[64];
    snprintf(kernel, sizeof kernel, "%lu.%lu.%lu", (unsigned long)v.dwMajorVersion,
             (unsigned long)v.dwMinorVersion, (unsigned long)v.dwBuildNumber);
    cJSON_AddStringToObject(o, "kernel", kernel);
  }
  check_adapters(o, root);
  check_render_device(o);
  if (!gpus && !cJSON_GetObjectItemCaseSensitive(o, "checks"))
    checks_add(o, "adapters", CHECK_FAIL, "DXGI lists no GPU adapter", NULL);
  checks_finish(o);
  return o;
}

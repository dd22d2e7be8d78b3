/*
 * GPU health of a Windows guest: the adapters DXGI lists, with names and user-mode driver
 * versions. A GPU-PV adapter appears once HostDriverStore holds the host's driver.
 */
#define COBJMACROS
#include "guest-agent/probe.h"

#include "common/win-text.h"

#include <dxgi.h>
#include <initguid.h>
#include <stdio.h>
#include <stdlib.h>

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

void probe_set_helper(const char *exe) {
  (void)exe; /* DXGI is asked in this process */
}

cJSON *probe_gpu(const char *root) {
  (void)root;
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
  cJSON_AddBoolToObject(o, "healthy", gpus > 0);
  return o;
}

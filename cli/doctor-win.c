#include "cli/doctor.h"

#include <stdio.h>
#include <windows.h>
/* after windows.h, which they need */
#include <initguid.h>
#include <setupapi.h>

DEFINE_GUID(GPUPV_GUID_GPU_PARTITION, 0x064092b3, 0x625e, 0x43bf, 0x9e, 0xb5, 0xdc, 0x84, 0x58,
            0x97, 0xdd, 0x59);

#define GCS_SERVICE                                                                                \
  L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\" \
  L"{00004750-facb-11e6-bd58-64006a7986d3}"

void doctor_platform(struct doctor *d) {
  HKEY key;
  if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, GCS_SERVICE, 0, KEY_READ, &key) == ERROR_SUCCESS) {
    RegCloseKey(key);
    doctor_say(d, DOCTOR_OK, "Hyper-V socket service", "registered (port 18256)", NULL);
  } else {
    doctor_say(d, DOCTOR_FAIL, "Hyper-V socket service",
               "not registered under GuestCommunicationServices: guests cannot connect",
               "gpupv-hostd install (from an elevated prompt)");
  }
  HDEVINFO set = SetupDiGetClassDevsW(&GPUPV_GUID_GPU_PARTITION, NULL, NULL,
                                      DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
  DWORD gpus = 0;
  if (set != INVALID_HANDLE_VALUE) {
    SP_DEVICE_INTERFACE_DATA iface = {.cbSize = sizeof iface};
    while (SetupDiEnumDeviceInterfaces(set, NULL, &GPUPV_GUID_GPU_PARTITION, gpus, &iface))
      gpus++;
    SetupDiDestroyDeviceInfoList(set);
  }
  char detail[100];
  snprintf(detail, sizeof detail, "%lu partitionable GPU(s)", (unsigned long)gpus);
  doctor_say(d, gpus ? DOCTOR_OK : DOCTOR_FAIL, "partitionable GPUs",
             gpus ? detail : "SetupAPI lists none",
             "a GPU whose driver supports GPU partitioning (Get-VMHostPartitionableGpu lists it)");
}

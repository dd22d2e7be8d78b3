/* INF reading: the CopyToVm lists as display INFs write them. The fixtures are our own. */
#include "host-agent/inf.h"
#include "tests/support/test.h"

#include <stdlib.h>
#include <string.h>

static const char INF[] =
    "; a display INF written for this test, in the vendors' format\r\n"
    "[Version]\r\n"
    "Signature = \"$Windows NT$\"\r\n"
    "Provider = %Vendor%\r\n"
    "DriverVer = 06/01/2026,32.0.15.7000\r\n"
    "\r\n"
    "[gpu_AddReg]\r\n"
    "HKR,,UserModeDriverName,%REG_MULTI_SZ%,gpu_um64.dll\r\n"
    "HKR,\"CopyToVmWhenNewer\",CudaFiles,%REG_MULTI_SZ%,\"cuda_loader64.dll\"\r\n"
    "HKR,\"CopyToVmWhenNewer\",CudaFiles,%REG_SZ_APPEND%,\"cuda.dll\"\r\n"
    "HKR,\"CopyToVmOverwrite\",ApiFiles,%REG_MULTI_SZ%,\"x64\\gpuapi64.dll\",\"gpuapi64.dll\"\r\n"
    "HKR,CopyToVmOverwrite,Smi,0x00010000,\"gpu-smi.exe\"   ; a comment\r\n"
    "hkr,\"copytovmoverwritewow64\",Api32,%REG_MULTI_SZ%,\"x86\\gpuapi.dll\",\"\"\r\n"
    "HKR,\"CopyToVmWhenNewerWow64\",Cuda32,,\"cuda32.dll\"\r\n"
    "HKR,\"CopyToVmOverwrite\",Outside,%REG_MULTI_SZ%,\"%10%\\system32\\x.dll\",\"x.dll\"\r\n"
    "HKR,\"CopyToVmOverwrite\",Up,%REG_MULTI_SZ%,\"..\\up.dll\",\"up.dll\"\r\n"
    "HKR,\"SomethingElse\",Files,%REG_MULTI_SZ%,\"other.dll\"\r\n"
    "HKLM,\"CopyToVmOverwrite\",NotHkr,%REG_MULTI_SZ%,\"hklm.dll\"\r\n"
    "\r\n"
    "[Strings]\r\n"
    "Vendor = \"Example GPUs\"\r\n"
    "REG_MULTI_SZ = 0x00010000\r\n"
    "REG_SZ_APPEND = 0x00010008\r\n";

static const struct inf_copy *find(const struct inf_copy *list, size_t n, const char *dest,
                                   int wow64) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i].dest, dest) == 0 && list[i].wow64 == wow64)
      return &list[i];
  return NULL;
}

TEST(unit_inf_reads_copy_to_vm_lists) {
  struct inf_copy *list;
  size_t n;
  CHECK(inf_read_copy_to_vm((const uint8_t *)INF, strlen(INF), &list, &n) == 0);
  CHECK_EQ_INT(n, 5);
  /* a REG_MULTI_SZ source, then an appended destination */
  const struct inf_copy *c = find(list, n, "cuda.dll", 0);
  CHECK(c && strcmp(c->source, "cuda_loader64.dll") == 0 && c->when_newer);
  /* a source in a sub-folder, with its destination name */
  c = find(list, n, "gpuapi64.dll", 0);
  CHECK(c && strcmp(c->source, "x64/gpuapi64.dll") == 0 && !c->when_newer);
  /* a numeric type; no destination: the source's name */
  c = find(list, n, "gpu-smi.exe", 0);
  CHECK(c && strcmp(c->source, "gpu-smi.exe") == 0);
  /* Wow64, case-insensitive key names, an empty destination */
  c = find(list, n, "gpuapi.dll", 1);
  CHECK(c && strcmp(c->source, "x86/gpuapi.dll") == 0 && !c->when_newer);
  /* REG_SZ (no flags): the source only */
  c = find(list, n, "cuda32.dll", 1);
  CHECK(c && c->when_newer);
  /* not package files, other keys, other roots: left out */
  CHECK(!find(list, n, "x.dll", 0) && !find(list, n, "up.dll", 0));
  CHECK(!find(list, n, "other.dll", 0) && !find(list, n, "hklm.dll", 0));
  free(list);
}

TEST(unit_inf_copy_to_vm_in_utf16_and_replaced_values) {
  /* UTF-16LE as Windows writes INFs; a later line without the append flag replaces a value */
  const char *ascii = "[r]\r\nHKR,\"CopyToVmOverwrite\",A,0x00010000,\"first.dll\"\r\n"
                      "HKR,\"CopyToVmOverwrite\",A,0x00010000,\"second.dll\",\"dest.dll\"\r\n";
  size_t len = strlen(ascii);
  uint8_t *wide = malloc(2 + 2 * len);
  wide[0] = 0xff, wide[1] = 0xfe;
  for (size_t i = 0; i < len; i++)
    wide[2 + 2 * i] = (uint8_t)ascii[i], wide[3 + 2 * i] = 0;
  struct inf_copy *list;
  size_t n;
  CHECK(inf_read_copy_to_vm(wide, 2 + 2 * len, &list, &n) == 0);
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_STR(list[0].source, "second.dll");
  CHECK_EQ_STR(list[0].dest, "dest.dll");
  free(list);
  free(wide);
  /* no lists at all */
  CHECK(inf_read_copy_to_vm((const uint8_t *)"[Version]\n", 10, &list, &n) == 0 && n == 0);
  free(list);
}

/* The CopyToVm lists of a driver key, from a test-owned key that reg.exe writes, under Wine. */
#include "host-agent/registry-copy-win.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define KEY "HKCU\\Software\\gpupv-test\\Driver"

static void reg(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "reg %s >NUL 2>&1", args);
  CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
}

static const struct inf_copy *find(const struct inf_copy *l, size_t n, const char *dest,
                                   int wow64) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i].dest, dest) == 0 && l[i].wow64 == wow64)
      return &l[i];
  return NULL;
}

TEST(unit_win_registry_copy_to_vm_lists) {
  system("reg delete HKCU\\Software\\gpupv-test /f >NUL 2>&1");
  /* as a display driver's INF leaves them: REG_MULTI_SZ source\0destination, REG_SZ source */
  reg("add \"" KEY "\\CopyToVmWhenNewer\" /v CudaFiles /t REG_MULTI_SZ /d "
      "cuda_loader64.dll\\0nvcuda.dll /f");
  reg("add \"" KEY "\\CopyToVmOverwrite\" /v Api /t REG_MULTI_SZ /d x64\\api64.dll\\0api64.dll /f");
  reg("add \"" KEY "\\CopyToVmOverwrite\" /v Smi /t REG_SZ /d gpu-smi.exe /f");
  reg("add \"" KEY "\\CopyToVmOverwriteWow64\" /v Api32 /t REG_MULTI_SZ /d x86\\api.dll /f");
  reg("add \"" KEY "\\CopyToVmWhenNewerWow64\" /v Outside /t REG_MULTI_SZ /d "
      "%%SystemRoot%%\\system32\\x.dll\\0x.dll /f");
  reg("add \"" KEY "\\CopyToVmOverwrite\" /v Number /t REG_DWORD /d 7 /f");
  HKEY key;
  CHECK(RegOpenKeyExW(HKEY_CURRENT_USER, L"Software\\gpupv-test\\Driver", 0, KEY_READ, &key) ==
        ERROR_SUCCESS);
  struct inf_copy *list;
  size_t n;
  CHECK(registry_read_copy_to_vm(key, &list, &n) == 0);
  RegCloseKey(key);
  CHECK_EQ_INT(n, 4);
  const struct inf_copy *c = find(list, n, "nvcuda.dll", 0);
  CHECK(c && strcmp(c->source, "cuda_loader64.dll") == 0 && c->when_newer);
  c = find(list, n, "api64.dll", 0);
  CHECK(c && strcmp(c->source, "x64/api64.dll") == 0 && !c->when_newer);
  c = find(list, n, "gpu-smi.exe", 0);
  CHECK(c && strcmp(c->source, "gpu-smi.exe") == 0);
  c = find(list, n, "api.dll", 1);
  CHECK(c && strcmp(c->source, "x86/api.dll") == 0 && !c->when_newer);
  CHECK(!find(list, n, "x.dll", 1)); /* not a file of the package */
  free(list);
  system("reg delete HKCU\\Software\\gpupv-test /f >NUL 2>&1");
}

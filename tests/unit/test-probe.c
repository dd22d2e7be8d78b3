/* The Linux guest's GPU checks, on fake trees under a root of the test's own. */
#include "common/fs.h"
#include "guest-agent/probe.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static void put(const char *root, const char *path, const char *text, int mode) {
  char full[1400];
  snprintf(full, sizeof full, "%s/%s", root, path);
  char dir[1400];
  snprintf(dir, sizeof dir, "%s", full);
  *strrchr(dir, '/') = 0;
  CHECK(fs_mkdir_p(dir, 0755) == 0);
  CHECK(fs_write_atomic(full, text, strlen(text), mode) == 0);
}

static const cJSON *check(const cJSON *status, const char *id) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(status, "checks")) {
    if (strcmp(cJSON_GetObjectItem(c, "id")->valuestring, id) == 0)
      return c;
  }
  return NULL;
}

static const char *level(const cJSON *status, const char *id) {
  const cJSON *c = check(status, id);
  return c ? cJSON_GetObjectItem(c, "level")->valuestring : "(missing)";
}

static int fix_says(const cJSON *status, const char *id, const char *words) {
  const cJSON *fix = cJSON_GetObjectItem(check(status, id), "fix");
  return cJSON_IsString(fix) && strstr(fix->valuestring, words);
}

TEST(unit_probe_an_empty_guest_fails_with_fixes) {
  const char *root = test_path("root");
  CHECK(fs_mkdir_p(root, 0755) == 0);
  cJSON *s = probe_gpu(root);
  CHECK_EQ_STR(level(s, "vmbus_gpu"), "fail");
  CHECK(fix_says(s, "vmbus_gpu", "Hyper-V"));
  CHECK_EQ_STR(level(s, "dxgkrnl"), "fail");
  CHECK(fix_says(s, "dxgkrnl", "dkms"));
  CHECK_EQ_STR(level(s, "dev_dxg"), "fail");
  CHECK(fix_says(s, "dev_dxg", "modprobe dxgkrnl"));
  CHECK_EQ_STR(level(s, "libs"), "fail");
  CHECK(!check(s, "nvidia_smi")); /* nothing published: no check */
  CHECK(!check(s, "vulkan"));     /* optional: no vulkaninfo, no check */
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(s, "healthy")));
  cJSON_Delete(s);
}

TEST(unit_probe_a_working_guest_and_the_next_kernel) {
  const char *root = test_path("root");
  struct utsname u;
  CHECK(uname(&u) == 0);
  char path[600];
  put(root, "sys/bus/vmbus/devices/f0e1d2c3/class_id", "{dde9cbc0-5060-4436-9448-ea1254a5d177}\n",
      0644);
  put(root, "sys/bus/vmbus/devices/a1b2/class_id", "{f8615163-df3e-46c5-913f-f2d2f965ed0e}\n",
      0644);
  put(root, "sys/module/dxgkrnl/version", "2.0\n", 0644);
  snprintf(path, sizeof path, "lib/modules/%s/modules.dep", u.release);
  put(root, path, "kernel/drivers/hv/dxgkrnl/dxgkrnl.ko.zst: kernel/drivers/hv/hv_vmbus.ko\n",
      0644);
  put(root, "dev/dxg", "", 0666);
  put(root, "usr/lib/wsl/lib/libdxcore.so", "elf", 0755);
  put(root, "etc/ld.so.conf.d/ld.wsl.conf", "/usr/lib/wsl/lib\n", 0644);
  put(root, "usr/lib/wsl/lib/nvidia-smi", "#!/bin/sh\necho 566.03\n", 0755);
  put(root, "usr/bin/vulkaninfo", "#!/bin/sh\necho 'GPU0:'\necho '    driverName = Dozen'\n", 0755);
  /* a newer kernel, installed, without the module: the GPU would go at the next reboot */
  put(root, "lib/modules/999.1.0-next/modules.dep", "kernel/fs/ext4/ext4.ko:\n", 0644);
  cJSON *s = probe_gpu(root);
  CHECK_EQ_STR(level(s, "vmbus_gpu"), "ok");
  CHECK_EQ_STR(level(s, "dxgkrnl"), "ok");
  CHECK_EQ_STR(level(s, "dev_dxg"), "ok");
  CHECK_EQ_STR(level(s, "libs"), "ok");
  CHECK_EQ_STR(level(s, "nvidia_smi"), "ok");
  CHECK_EQ_STR(level(s, "vulkan"), "ok");
  CHECK_EQ_STR(cJSON_GetObjectItem(s, "nvidia_smi")->valuestring, "566.03");
  CHECK_EQ_STR(level(s, "dxgkrnl_next_kernel"), "warn");
  CHECK(strstr(cJSON_GetObjectItem(check(s, "dxgkrnl_next_kernel"), "detail")->valuestring,
               "999.1.0-next"));
  CHECK(fix_says(s, "dxgkrnl_next_kernel", "dkms autoinstall -k 999.1.0-next"));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(s, "healthy"))); /* a warning is not a failure */
  cJSON_Delete(s);
  /* DKMS builds it for the next kernel: no warning */
  put(root, "lib/modules/999.1.0-next/updates/dkms/dxgkrnl.ko.xz", "ko", 0644);
  s = probe_gpu(root);
  CHECK_EQ_STR(level(s, "dxgkrnl_next_kernel"), "ok");
  cJSON_Delete(s);
  /* the module is there but not loaded: the fix is to load it */
  snprintf(path, sizeof path, "%s/sys/module", root);
  CHECK(fs_remove_tree(path) == 0);
  snprintf(path, sizeof path, "%s/dev/dxg", root);
  CHECK(fs_unlink(path) == 0);
  s = probe_gpu(root);
  CHECK_EQ_STR(level(s, "dxgkrnl"), "fail");
  CHECK(fix_says(s, "dxgkrnl", "modprobe dxgkrnl"));
  cJSON_Delete(s);
}

/* System files under Wine: a destination held open is replaced at the next restart. */
#include "common/fs.h"
#include "common/hash.h"
#include "common/win-text.h"
#include "guest-agent/system-place.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

static void write_text(const char *path, const char *text) {
  CHECK(fs_write_atomic(path, text, strlen(text), 0644) == 0);
}

TEST(unit_win_system_file_in_use_waits_for_restart) {
  char sys32[1024], wow[1024], base[1024], gen[1024], pkg[1200], path[1400];
  snprintf(sys32, sizeof sys32, "%s", test_path("System32"));
  snprintf(wow, sizeof wow, "%s", test_path("SysWOW64"));
  snprintf(base, sizeof base, "%s", test_path("base"));
  snprintf(gen, sizeof gen, "%s", test_path("gen"));
  snprintf(pkg, sizeof pkg, "%s/drivers/gpu.inf_amd64_1", gen);
  CHECK(fs_mkdir_p(sys32, 0755) == 0 && fs_mkdir_p(base, 0755) == 0 && fs_mkdir_p(pkg, 0755) == 0);
  const char *content = "cuda for the VM";
  snprintf(path, sizeof path, "%s/cuda.dll", pkg);
  write_text(path, content);
  struct manifest m = {0};
  int p;
  uint8_t sha[HASH_LEN];
  hash_bytes(content, strlen(content), sha);
  CHECK(manifest_add_package(&m, "gpu.inf_amd64_1", NULL, NULL, &p) == 0);
  CHECK(manifest_add_file(&m, p, "cuda.dll", strlen(content), 0644, sha, ORIGIN_NONE) == 0);
  CHECK(manifest_add_system_file(&m, p, "cuda.dll", SYSDIR_SYSTEM32, "nvcuda.dll",
                                 RULE_OVERWRITE) == 0);
  /* the old nvcuda.dll is loaded by some process: open, and not shared for delete */
  snprintf(path, sizeof path, "%s/nvcuda.dll", sys32);
  write_text(path, "the loaded one");
  wchar_t *w = win_wide_path(path);
  HANDLE held = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
  free(w);
  CHECK(held != INVALID_HANDLE_VALUE);
  struct system_place sp;
  system_place_init(&sp, sys32, wow, base);
  char note[512] = "";
  CHECK_MSG(system_place_apply(&sp, &m, gen, note, sizeof note) == 0, "%s", note);
  CHECK_MSG(strstr(note, "reboot required"), "note: %s", note);
  cJSON *pending = system_place_pending(&sp);
  CHECK(pending && cJSON_GetArraySize(pending) == 1);
  CHECK_EQ_STR(cJSON_GetArrayItem(pending, 0)->valuestring, "System32\\nvcuda.dll");
  cJSON_Delete(pending);
  CloseHandle(held);
  /* the new content waits beside it, verified, for the restart to move it over */
  snprintf(path, sizeof path, "%s/nvcuda.dll.gpupv-new", sys32);
  CHECK(fs_exists(path));
  /* once the file is free, the next apply places it and nothing waits any more */
  note[0] = 0;
  CHECK_MSG(system_place_apply(&sp, &m, gen, note, sizeof note) == 0, "%s", note);
  CHECK(system_place_pending(&sp) == NULL);
  manifest_done(&m);
}

/* Companion packages: software components and extensions with the display INF's DriverVer. */
#include "common/fs.h"
#include "host-agent/companions.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>

static void package(const char *store, const char *name, const char *inf_name, const char *cls,
                    const char *version) {
  char dir[1024], path[1400], text[512];
  snprintf(dir, sizeof dir, "%s/%s", store, name);
  CHECK(fs_mkdir_p(dir, 0755) == 0);
  snprintf(path, sizeof path, "%s/%s", dir, inf_name);
  snprintf(text, sizeof text,
           "[Version]\r\nSignature=\"$WINDOWS NT$\"\r\n%s\r\nDriverVer=03/01/2026,%s\r\n", cls,
           version);
  CHECK(fs_write_atomic(path, text, strlen(text), 0644) == 0);
}

static int has(const struct strlist *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i], name) == 0)
      return 1;
  return 0;
}

TEST(unit_companion_packages_share_the_display_driverver) {
  const char *store = test_path("FileRepository");
  package(store, "u0400000.inf_amd64_a", "u0400000.inf", "Class=Display", "31.0.24000.1");
  package(store, "amdocl.inf_amd64_b", "amdocl.inf", "Class=SoftwareComponent", "31.0.24000.1");
  package(store, "amdwin.inf_amd64_c", "amdwin.inf",
          "ClassGuid={e2f84ce7-8efa-411c-aa69-97454ca4cb57}", "31.0.24000.1");
  package(store, "amdocl.inf_amd64_old", "amdocl.inf", "Class=SoftwareComponent",
          "31.0.23000.9"); /* an older driver's */
  package(store, "other.inf_amd64_d", "other.inf", "Class=Display", "31.0.24000.1"); /* no */
  package(store, "audio.inf_amd64_e", "audio.inf", "Class=MEDIA", "31.0.24000.1");
  struct strlist pkgs = {0};
  strlist_add(&pkgs, "u0400000.inf_amd64_a");
  CHECK_EQ_INT(companions_add(store, &pkgs), 2);
  CHECK_EQ_INT(pkgs.n, 3);
  CHECK(has(&pkgs, "amdocl.inf_amd64_b") && has(&pkgs, "amdwin.inf_amd64_c"));
  CHECK(!has(&pkgs, "amdocl.inf_amd64_old") && !has(&pkgs, "other.inf_amd64_d"));
  /* again: nothing new */
  CHECK_EQ_INT(companions_add(store, &pkgs), 0);
  strlist_free(&pkgs);
}

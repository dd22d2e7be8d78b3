/* Packaged WSL libraries read straight out of a .msix and out of a .msixbundle. */
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct fixture_spec spec = {
    .seed = 3, .packages = 1, .files_per_package = 10, .small_max = 5000};

static char *generation_with(const char *src, const char *msix) {
  struct proc host;
  agents_start_host(&host, src, msix, NULL);
  char *gen = agents_host_generation();
  proc_stop(&host);
  return gen;
}

TEST(e2e_msix_source) {
  const char *src = test_path("src");
  const char *msix = test_path("Microsoft.WSL_2.4.4.0_x64.msix");
  const char *bundle = test_path("Microsoft.WSL_2.4.4.0.msixbundle");
  const char *root = test_path("guest1");
  char packaged[1024];
  CHECK(fixture_make(src, &spec) == 0);
  snprintf(packaged, sizeof packaged, "%s/packaged", src);
  CHECK(fixture_make_msix(packaged, msix, bundle) == 0);
  /* The same libraries give the same generation, whatever they were read from. */
  char *from_dir = generation_with(src, NULL);
  char *from_msix = generation_with(src, msix);
  char *from_bundle = generation_with(src, bundle);
  CHECK_EQ_STR(from_msix, from_dir);
  CHECK_EQ_STR(from_bundle, from_dir);
  struct proc host, guest;
  agents_start_host(&host, src, bundle, NULL);
  agents_start_guest(&guest, "g1", root);
  cJSON *result;
  CHECK_EQ_INT(agents_push("g1", &result), 0);
  cJSON_Delete(result);
  agents_check_installed(root, src); /* lib == inbox + packaged, packaged winning */
  free(from_dir);
  free(from_msix);
  free(from_bundle);
  proc_stop(&guest);
  proc_stop(&host);
}

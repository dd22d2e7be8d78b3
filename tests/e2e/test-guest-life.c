/* The guest agent on its own: one agent per state folder. */
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <stdio.h>

TEST(e2e_second_guest_agent_on_one_state_exits_1) {
  const char *src = test_path("src"), *root = test_path("guest1");
  struct fixture_spec spec = {.seed = 11, .packages = 1, .files_per_package = 5, .small_max = 2000};
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  agents_start_synced(&host, &guest, src, root, NULL);
  /* the same root and state folder, as a second service or a careless admin would start */
  char state[1100], mention[128];
  snprintf(state, sizeof state, "%s/guest-state-g1", test_dir());
  snprintf(mention, sizeof mention, "another gpupv-guestd (PID %d) already uses", (int)guest.pid);
  char *argv[] = {"gpupv-guestd",
                  "--connect",
                  (char *)agents_listen_uri(),
                  "--root",
                  (char *)root,
                  "--state-dir",
                  state,
                  "--name",
                  "g1",
                  NULL};
  agents_expect_exit(argv, 1, mention);
  /* the first one is untouched and still serves */
  agents_push_ok("g1");
  agents_check_installed(root, src);
  proc_stop(&guest);
  /* once it is gone, the folder is free again */
  agents_start_guest(&guest, "g1", root);
  proc_stop(&guest);
  proc_stop(&host);
}

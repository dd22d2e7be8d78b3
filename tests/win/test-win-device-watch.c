/* A change under a watched driver class key reaches the loop, under Wine (the test owns the
 * key; the host watches the display class). */
#include "host-agent/device-watch.h"
#include "tests/support/test.h"

#include <stdlib.h>
#include <uv.h>

struct seen {
  int changes;
  uv_timer_t timeout;
};

static void on_change(void *ctx) {
  struct seen *s = ctx;
  s->changes++;
  uv_stop(s->timeout.loop);
}

static void on_timeout(uv_timer_t *t) {
  uv_stop(t->loop);
}

TEST(unit_win_driver_key_change_is_seen) {
  system("reg delete HKCU\\Software\\gpupv-test-class /f >NUL 2>&1");
  CHECK(system("reg add HKCU\\Software\\gpupv-test-class\\0000 /v InfPath /d oem1.inf /f "
               ">NUL 2>&1") == 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct seen s = {0};
  uv_timer_init(&loop, &s.timeout);
  struct device_watch *w;
  CHECK(device_watch_start(&loop, "HKCU\\Software\\gpupv-test-class", on_change, &s, &w) == 0);
  /* nothing changed yet: nothing is said */
  uv_timer_start(&s.timeout, on_timeout, 300, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(s.changes, 0);
  /* a driver update rewrites the key's values */
  CHECK(system("reg add HKCU\\Software\\gpupv-test-class\\0000 /v InfPath /d oem2.inf /f "
               ">NUL 2>&1") == 0);
  uv_timer_start(&s.timeout, on_timeout, 10000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_MSG(s.changes >= 1, "the key's change was not reported");
  /* and again: the notification is asked for anew after each one */
  int before = s.changes;
  CHECK(system("reg add HKCU\\Software\\gpupv-test-class\\0000 /v DriverVersion /d 2.0 /f "
               ">NUL 2>&1") == 0);
  uv_timer_start(&s.timeout, on_timeout, 10000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_MSG(s.changes > before, "a second change was not reported");
  device_watch_stop(w);
  uv_close((uv_handle_t *)&s.timeout, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  system("reg delete HKCU\\Software\\gpupv-test-class /f >NUL 2>&1");
}

/* Defaults for Linux; services are systemd units (packaging/systemd), not registered here. */
#include "common/platform.h"

#include <stdio.h>
#include <string.h>

static const struct platform_defaults defaults = {
    .control = "unix:/run/gpupv/hostd.sock",
    .host_listen = "vsock://any:18256",
    .guest_connect = "vsock://2:18256",
    .host_state = "/var/lib/gpupv-hostd",
    .guest_state = "/var/lib/gpupv-guestd",
    .guest_root = "/",
};

const struct platform_defaults *platform_defaults(void) {
  return &defaults;
}

void platform_hostname(char *ret, size_t size, const char *fallback) {
  size_t n = size;
  if (uv_os_gethostname(ret, &n) != 0)
    snprintf(ret, size, "%s", fallback);
}

int service_install(const struct service_spec *spec, char *err, size_t err_size) {
  snprintf(err, err_size,
           "on Linux, systemd runs %s: install packaging/systemd/%s.service and run "
           "'systemctl enable --now %s'",
           spec->name, spec->name, spec->name);
  return UV_ENOTSUP;
}

int service_uninstall(const struct service_spec *spec, char *err, size_t err_size) {
  snprintf(err, err_size, "on Linux, run 'systemctl disable --now %s'", spec->name);
  return UV_ENOTSUP;
}

int service_run(const char *name, int (*body)(int argc, char **argv), int argc, char **argv) {
  (void)name;
  return body(argc, argv);
}

void service_watch_stop(uv_loop_t *loop, void (*stop)(void *ctx), void *ctx) {
  (void)loop, (void)stop, (void)ctx;
}

void service_unwatch(void) {
}

/*
 * Per-platform defaults and the service manager: platform-posix.c (systemd runs the agents
 * from packaging/systemd) and platform-win.c (the Service Control Manager).
 */
#ifndef GPUPV_COMMON_PLATFORM_H
#define GPUPV_COMMON_PLATFORM_H

#include <stddef.h>
#include <uv.h>

struct platform_defaults {
  const char *control;       /* the host's control endpoint */
  const char *host_listen;   /* where the host accepts guests */
  const char *guest_connect; /* where the guest finds the host */
  const char *host_state;    /* state folders */
  const char *guest_state;
  const char *guest_root; /* the folder the guest layout lives under */
};

/* The defaults of this platform; strings live as long as the process. */
const struct platform_defaults *platform_defaults(void);

/* This machine's name (for guests and hosts that were not given one). */
void platform_hostname(char *ret, size_t size, const char *fallback);

/* What a service needs to be registered. */
struct service_spec {
  const char *name;         /* "gpupv-hostd" */
  const char *display_name; /* "gpupv host agent" */
  const char *description;
  const char *config; /* the --config file the service runs with, or NULL */
  /* the host's Hyper-V socket service GUID to register under GuestCommunicationServices (with
   * display_name as ElementName), or NULL */
  const char *hv_service_guid;
};

/* Registers the running program as a service that starts with the machine. */
int service_install(const struct service_spec *spec, char *err, size_t err_size);
int service_uninstall(const struct service_spec *spec, char *err, size_t err_size);

/*
 * Handles "PROGRAM install [--config FILE]" and "PROGRAM uninstall" (service-cmd.c): returns
 * the exit code, or -1 when argv is not one of those.
 */
int service_command(const struct service_spec *spec, int argc, char **argv);

/*
 * Runs body(argc, argv) as the service the service manager started (with --service), and
 * returns its exit code; on platforms without one, runs body directly.
 */
int service_run(const char *name, int (*body)(int argc, char **argv), int argc, char **argv);
/*
 * Once a loop runs: stop(ctx) will run on the loop thread when the service manager asks the
 * service to stop. Does nothing outside a service. service_unwatch closes what it made.
 */
void service_watch_stop(uv_loop_t *loop, void (*stop)(void *ctx), void *ctx);
void service_unwatch(void);

#endif

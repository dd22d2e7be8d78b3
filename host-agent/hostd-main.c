/* gpupv-hostd: publishes the host's GPU driver files to guest agents. */
#include "common/cmdline.h"
#include "common/err.h"
#include "common/log.h"
#include "common/os.h"
#include "common/platform.h"
#include "host-agent/discover.h"
#include "host-agent/hostd.h"
#include "net/service-id.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: gpupv-hostd [OPTIONS]\n"
    "       gpupv-hostd install [--config FILE] | uninstall   (Windows service)\n"
    "\n"
    "Publishes this host's GPU driver packages and WSL libraries to gpupv-guestd agents in\n"
    "GPU-PV virtual machines, keeps every connected guest on the host's driver generation,\n"
    "and serves the gpupv CLI on a control socket.\n"
    "\n"
    "Options (a --config file takes the same names as JSON keys; flags override it):\n";

static const char epilog[] =
    "\n"
    "Addresses: unix:PATH, pipe:NAME (Windows), tcp://127.0.0.1:PORT (loopback only),\n"
    "vsock://any:PORT (Linux), hvsock://*:PORT (Windows: any VM; or a VM id).\n"
    "SIGHUP rescans the source; SIGTERM and SIGINT (Ctrl-C) stop the agent.\n"
    "Example:\n"
    "  gpupv-hostd --driver-store /srv/FileRepository --lib-inbox /srv/lxss/lib \\\n"
    "              --wsl-msix /srv/Microsoft.WSL.msixbundle --listen vsock://any:18256\n";

static int start(void *h, uv_loop_t *loop, void *cfg) {
  return hostd_start(h, loop, cfg);
}

static void stop(void *h) {
  hostd_stop(h);
}

static void done(void *h) {
  hostd_done(h);
}

static int run(int argc, char **argv) {
  const struct platform_defaults *def = platform_defaults();
  struct hostd_config cfg = {.ready_fd = -1,
                             .max_connections = HOSTD_DEFAULT_MAX_CONNECTIONS,
                             .hello_timeout_ms = HOSTD_DEFAULT_HELLO_TIMEOUT_MS};
  int help = 0, version = 0;
  const struct opt opts[] = {
      {"config", 'c', OPT_STRING, &cfg.config, "FILE", "read settings from a JSON file", 0, 0},
      {"driver-store", 0, OPT_STRING, &cfg.driver_store, "DIR",
       "folder of driver package folders (like FileRepository)", 0, 0},
      {"package", 'p', OPT_LIST, &cfg.packages, "NAME",
       "package folder to publish (repeatable; default: all)", 0, 0},
      {"lib-inbox", 0, OPT_STRING, &cfg.lib_inbox, "DIR", "vendor WSL libraries (lxss\\lib)", 0, 0},
      {"lib-packaged", 0, OPT_STRING, &cfg.lib_packaged, "DIR",
       "WSL package libraries (WSL\\lib); they win on a name clash", 0, 0},
      {"wsl-msix", 0, OPT_STRING, &cfg.wsl_msix, "FILE",
       "read the packaged libraries from a WSL .msix or .msixbundle", 0, 0},
      {"state-dir", 0, OPT_STRING, &cfg.state_dir, "DIR",
       "hash cache and state (default /var/lib/gpupv-hostd; Windows: %ProgramData%\\gpupv\\hostd)",
       0, 0},
      {"listen", 'l', OPT_LIST, &cfg.listen, "URI",
       "accept guests here (repeatable; default vsock://any:18256, Windows hvsock://*:18256)", 0,
       0},
      {"control", 0, OPT_STRING, &cfg.control, "URI",
       "control endpoint (default $GPUPV_CONTROL, else unix:/run/gpupv/hostd.sock or, on Windows, "
       "pipe:gpupv-hostd)",
       0, 0},
      {"name", 0, OPT_STRING, &cfg.name, "NAME", "host name shown to guests (default hostname)", 0,
       0},
      {"http", 0, OPT_STRING, &cfg.http, "ADDR:PORT",
       "serve /api/status and /metrics here (e.g. 127.0.0.1:9731)", 0, 0},
      {"max-rate", 0, OPT_INT, &cfg.max_rate, "BYTES", "per-guest send limit in bytes/s (0: none)",
       0, LONG_MAX},
      {"max-connections", 0, OPT_INT, &cfg.max_connections, "N",
       "guest connections at once (default 512)", 1, 65536},
      {"hello-timeout-ms", 0, OPT_INT, &cfg.hello_timeout_ms, "MS",
       "close a connection that sends no hello in time (default 30000)", 100, 3600000},
      {"discover", 0, OPT_FLAG, &cfg.discover, NULL,
       "find the GPUs' driver packages and the WSL library folders at every scan (Windows; "
       "the default there when no source is given); configured folders are the fallback",
       0, 0},
      {"no-auto-push", 0, OPT_FLAG, &cfg.no_auto_push, NULL,
       "push only when asked, not on connect or rescan", 0, 0},
      {"ready-fd", 0, OPT_INT, &cfg.ready_fd, "FD",
       "write \"ready\" to FD after the first scan (for supervisors)", 0, 65535},
      CMDLINE_STANDARD_OPTIONS(&cfg.log_level, &help, &version),
  };
  char err[512];
  int rc = 2;
  const struct cmdline cl = {"gpupv-hostd", usage,          epilog, opts,
                             &cfg.config,   &cfg.log_level, &help,  &version};
  if ((rc = cmdline_parse(&cl, argc, argv)) >= 0)
    goto out;
  rc = 2;
  if (cfg.discover && !discover_available()) {
    rc = cmdline_usage_error(&cl, "--discover needs a Windows host (give the folders instead)");
    goto out;
  }
  int configured = cfg.driver_store || cfg.lib_inbox || cfg.lib_packaged || cfg.wsl_msix;
  if (!configured && discover_available())
    cfg.discover = 1;
  if (!configured && !cfg.discover) {
    rc = cmdline_usage_error(
        &cl, "nothing to publish: give --driver-store, --lib-inbox, --lib-packaged or "
             "--wsl-msix (see --help)");
    goto out;
  }
  if (cfg.lib_packaged && cfg.wsl_msix) {
    rc = cmdline_usage_error(
        &cl, "--lib-packaged and --wsl-msix both name the packaged libraries; give one");
    goto out;
  }
  if (cfg.packages.n && !cfg.driver_store) {
    rc = cmdline_usage_error(&cl, "--package needs --driver-store");
    goto out;
  }
  if (!cfg.state_dir)
    cfg.state_dir = strdup(def->host_state);
  if (!cfg.control) {
    const char *env = getenv("GPUPV_CONTROL");
    cfg.control = strdup(env && *env ? env : def->control);
  }
  if (!cfg.name) {
    char host[64];
    platform_hostname(host, sizeof host, "host");
    cfg.name = strdup(host);
  }
  if (!cfg.listen.n)
    strlist_add(&cfg.listen, def->host_listen);
  for (size_t i = 0; i < cfg.listen.n; i++) {
    struct uri u;
    const char *reason;
    if (uri_parse(cfg.listen.items[i], &u, &reason)) {
      snprintf(err, sizeof err, "--listen %s: %s", cfg.listen.items[i], reason);
      rc = cmdline_usage_error(&cl, err);
      goto out;
    }
  }
  if (cfg.listen.n > HOSTD_MAX_LISTENERS) {
    rc = cmdline_usage_error(&cl, "too many --listen addresses (at most 8)");
    goto out;
  }
  static const struct agent_life life = {start, stop, done};
  struct hostd h;
  rc = cmdline_run_agent("gpupv-hostd", &life, &h, &cfg);
out:
  options_free(opts);
  return rc;
}

int main(int argc, char **argv) {
  os_init_process();
  struct guid service;
  char guid[GUID_TEXT_LEN + 1];
  service_id_from_port(GPUPV_DEFAULT_PORT, &service);
  guid_format(&service, guid);
  const struct service_spec spec = {
      .name = "gpupv-hostd",
      .display_name = "gpupv host agent",
      .description = "Publishes this host's GPU driver files to GPU-PV virtual machines.",
      .hv_service_guid = guid,
  };
  int rc = service_command(&spec, argc, argv);
  return rc >= 0 ? rc : service_run(spec.name, run, argc, argv);
}

/* gpupv-hostd: publishes the host's GPU driver files to guest agents. */
#include "common/cmdline.h"
#include "common/err.h"
#include "common/log.h"
#include "common/os.h"
#include "host-agent/hostd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "Usage: gpupv-hostd [OPTIONS]\n"
    "\n"
    "Publishes this host's GPU driver packages and WSL libraries to gpupv-guestd agents in\n"
    "GPU-PV virtual machines, keeps every connected guest on the host's driver generation,\n"
    "and serves the gpupv CLI on a control socket.\n"
    "\n"
    "Options (a --config file takes the same names as JSON keys; flags override it):\n";

static const char epilog[] =
    "\n"
    "Addresses: unix:PATH, tcp://127.0.0.1:PORT (loopback only), vsock://any:PORT.\n"
    "SIGHUP rescans the source; SIGTERM and SIGINT stop the agent.\n"
    "Example:\n"
    "  gpupv-hostd --driver-store /srv/FileRepository --lib-inbox /srv/lxss/lib \\\n"
    "              --wsl-msix /srv/Microsoft.WSL.msixbundle --listen vsock://any:18256\n";

int main(int argc, char **argv) {
  os_init_process();
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
       "hash cache and state (default /var/lib/gpupv-hostd)", 0, 0},
      {"listen", 'l', OPT_LIST, &cfg.listen, "URI",
       "accept guests here (repeatable; default vsock://any:18256)", 0, 0},
      {"control", 0, OPT_STRING, &cfg.control, "URI",
       "control socket (default $GPUPV_CONTROL or unix:/run/gpupv/hostd.sock)", 0, 0},
      {"name", 0, OPT_STRING, &cfg.name, "NAME", "host name shown to guests (default hostname)", 0,
       0},
      {"http", 0, OPT_STRING, &cfg.http, "ADDR:PORT",
       "serve /api/status and /metrics here (e.g. 127.0.0.1:9731)", 0, 0},
      {"max-rate", 0, OPT_INT, &cfg.max_rate, "BYTES", "per-guest send limit in bytes/s (0: none)",
       0, 1L << 40},
      {"max-connections", 0, OPT_INT, &cfg.max_connections, "N",
       "guest connections at once (default 512)", 1, 65536},
      {"hello-timeout-ms", 0, OPT_INT, &cfg.hello_timeout_ms, "MS",
       "close a connection that sends no hello in time (default 30000)", 100, 3600000},
      {"no-auto-push", 0, OPT_FLAG, &cfg.no_auto_push, NULL,
       "push only when asked, not on connect or rescan", 0, 0},
      {"ready-fd", 0, OPT_INT, &cfg.ready_fd, "FD",
       "write \"ready\" to FD after the first scan (for supervisors)", 0, 65535},
      CMDLINE_STANDARD_OPTIONS(&cfg.log_level, &help, &version),
  };
  char err[512];
  int rc = 2;
  uv_loop_t loop;
  int loop_open = 0;
  struct hostd h;
  int started = 0;
  const struct cmdline cl = {"gpupv-hostd", usage,          epilog, opts,
                             &cfg.config,   &cfg.log_level, &help,  &version};
  if ((rc = cmdline_parse(&cl, argc, argv)) >= 0)
    goto out;
  rc = 2;
  if (!cfg.driver_store && !cfg.lib_inbox && !cfg.lib_packaged && !cfg.wsl_msix) {
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
    cfg.state_dir = strdup("/var/lib/gpupv-hostd");
  if (!cfg.control) {
    const char *env = getenv("GPUPV_CONTROL");
    cfg.control = strdup(env && *env ? env : HOSTD_DEFAULT_CONTROL);
  }
  if (!cfg.name) {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    cfg.name = strdup(host);
  }
  if (!cfg.listen.n)
    strlist_add(&cfg.listen, "vsock://any:18256");
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
  if (uv_loop_init(&loop)) {
    rc = 1;
    goto out;
  }
  loop_open = 1;
  started = 1;
  if (hostd_start(&h, &loop, &cfg)) {
    hostd_stop(&h);
    rc = 1;
  } else {
    rc = 0;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
out:
  if (started)
    hostd_done(&h);
  if (loop_open) {
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop)) {
      fprintf(stderr, "gpupv-hostd: handles left open at exit\n");
      rc = rc ? rc : 1;
    }
  }
  options_free(opts);
  return rc;
}

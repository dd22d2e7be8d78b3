/* gpupv-hostd: publishes the host's GPU driver files to guest agents. */
#include "common/cmdline.h"
#include "common/err.h"
#include "common/log.h"
#include "common/os.h"
#include "common/platform.h"
#include "host-agent/discover.h"
#include "host-agent/help.h"
#include "host-agent/hostd.h"
#include "host-agent/system-files.h"
#include "net/service-id.h"
#include "net/transport.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: gpupv-hostd [OPTIONS]\n"
    "       gpupv-hostd install [--config FILE] | uninstall   (Windows service)\n"
    "\n"
    "Publishes this host's GPU driver packages and WSL libraries to gpupv-guestd\n"
    "agents in GPU-PV virtual machines, keeps every connected guest on the host's\n"
    "driver generation, and serves the gpupv CLI on a control socket.\n"
    "\n"
    "Options (a --config file takes the same names as JSON keys; flags override it):\n";

static int start(void *h, uv_loop_t *loop, void *cfg) {
  return hostd_start(h, loop, cfg);
}

static void stop(void *h) {
  hostd_stop(h);
}

static void done(void *h) {
  hostd_done(h);
}

/* An address flag that can never work is a usage error, found before anything is made. */
static int check_address(const struct cmdline *cl, const char *flag, const char *text,
                         int listening) {
  struct uri u;
  const char *reason = NULL;
  if (uri_parse(text, &u, &reason) || transport_check(&u, listening, &reason)) {
    char err[512];
    snprintf(err, sizeof err, "%s %s: %s", flag, text, reason);
    return cmdline_usage_error(cl, err);
  }
  return 0;
}

/* --http ADDR:PORT with a numeric address (IPv6 in brackets) and a port up to 65535. */
static int check_http(const struct cmdline *cl, const char *text) {
  const char *colon = strrchr(text, ':');
  char host[64], *end;
  long port = colon ? strtol(colon + 1, &end, 10) : -1;
  int ok = colon && colon[1] && !*end && port >= 0 && port <= 65535 &&
           (size_t)(colon - text) < sizeof host;
  if (ok) {
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
      host[n - 1] = 0;
      ok = uv_ip6_addr(host + 1, 0, &a6) == 0;
    } else {
      ok = strcmp(host, "localhost") == 0 || uv_ip4_addr(host, 0, &a4) == 0;
    }
  }
  if (ok)
    return 0;
  char err[300];
  snprintf(err, sizeof err,
           "--http %.200s: expected ADDR:PORT with a numeric address, like 127.0.0.1:9731 or "
           "[::1]:9731",
           text);
  return cmdline_usage_error(cl, err);
}

static int run(int argc, char **argv) {
  const struct platform_defaults *def = platform_defaults();
  struct hostd_config cfg = {.ready_fd = -1,
                             .max_connections = HOSTD_DEFAULT_MAX_CONNECTIONS,
                             .max_guests = GUESTS_DEFAULT_CAPACITY,
                             .hello_timeout_ms = HOSTD_DEFAULT_HELLO_TIMEOUT_MS,
                             .write_timeout_ms = HOSTD_DEFAULT_WRITE_TIMEOUT_MS,
                             .retry_min_ms = PUSH_RETRY_MIN_MS,
                             .retry_max_ms = PUSH_RETRY_MAX_MS,
                             .debounce_ms = HOSTD_DEFAULT_DEBOUNCE_MS,
                             .rescan_interval_s = HOSTD_DEFAULT_RESCAN_INTERVAL_S};
  int help = 0, version = 0;
  /* this platform's defaults, in its own words */
  char state_help[300], listen_help[200], control_help[200];
  snprintf(state_help, sizeof state_help, "hash cache and state (default %s)", def->host_state);
  snprintf(listen_help, sizeof listen_help, "accept guests here (repeatable; default %s)",
           def->host_listen);
  snprintf(control_help, sizeof control_help, "control endpoint (default $GPUPV_CONTROL, else %s)",
           def->control);
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
      {"state-dir", 0, OPT_STRING, &cfg.state_dir, "DIR", state_help, 0, 0},
      {"listen", 'l', OPT_LIST, &cfg.listen, "URI", listen_help, 0, 0},
      {"allow-guest-keys", 0, OPT_STRING, &cfg.allow_guest_keys, "FILE",
       "take tls:// guests only with a key listed in FILE, one per line (gpupv-guestd "
       "--show-key prints a guest's); read at each connection",
       0, 0},
      {"control", 0, OPT_STRING, &cfg.control, "URI", control_help, 0, 0},
      {"name", 0, OPT_STRING, &cfg.name, "NAME", "host name shown to guests (default hostname)", 0,
       0},
      {"http", 0, OPT_STRING, &cfg.http, "ADDR:PORT",
       "serve /api/status and /metrics here (e.g. 127.0.0.1:9731)", 0, 0},
      {"max-rate", 0, OPT_INT, &cfg.max_rate, "BYTES", "per-guest send limit in bytes/s (0: none)",
       0, LONG_MAX},
      {"max-connections", 0, OPT_INT, &cfg.max_connections, "N",
       "guest connections at once (default 512)", 1, 65536},
      {"max-guests", 0, OPT_INT, &cfg.max_guests, "N",
       "guest records kept, offline ones included; the longest offline goes first (default "
       "4096)",
       1, 1000000},
      {"hello-timeout-ms", 0, OPT_INT, &cfg.hello_timeout_ms, "MS",
       "close a connection that sends no hello in time (default 30000)", 100, 3600000},
      {"write-timeout-ms", 0, OPT_INT, &cfg.write_timeout_ms, "MS",
       "close a guest that reads nothing of what is sent to it this long (default 120000)", 100,
       86400000},
      {"retry-min-ms", 0, OPT_INT, &cfg.retry_min_ms, "MS",
       "first wait before retrying a failed push; doubles each time (default 5000)", 10, 86400000},
      {"retry-max-ms", 0, OPT_INT, &cfg.retry_max_ms, "MS",
       "longest wait between retries of a failed push (default 300000)", 10, 86400000},
      {"system-file", 0, OPT_LIST, &cfg.system_files, "PKG/PATH=System32/NAME",
       "a package file that Windows guests also get in System32 (or =SysWOW64/NAME; "
       "append :when-newer to keep a newer file there); repeatable; given, it replaces the "
       "CopyToVm lists of the packages' INFs",
       0, 0},
      {"debounce-ms", 0, OPT_INT, &cfg.debounce_ms, "MS",
       "rescan once the changed source has been quiet this long, so that a driver update "
       "makes one generation (default 2000)",
       0, 600000},
      {"rescan-interval", 0, OPT_INT, &cfg.rescan_interval_s, "SECONDS",
       "rescan this often even when no change was seen (default 300; 0: never)", 0, 604800},
      {"no-watch", 0, OPT_FLAG, &cfg.no_watch, NULL,
       "do not watch the source's folders: rescan only at the interval and when asked "
       "(gpupv push)",
       0, 0},
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
  int rc = 2;
  const struct cmdline cl = {"gpupv-hostd", usage,          hostd_epilog, opts,
                             &cfg.config,   &cfg.log_level, &help,        &version};
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
  for (size_t i = 0; i < cfg.system_files.n; i++) {
    struct system_file_spec spec;
    const char *reason;
    if (system_file_parse(cfg.system_files.items[i], &spec, &reason)) {
      char text[600];
      snprintf(text, sizeof text, "--system-file %.300s: %s", cfg.system_files.items[i], reason);
      rc = cmdline_usage_error(&cl, text);
      goto out;
    }
  }
  if (cfg.system_files.n && !cfg.driver_store && !cfg.discover) {
    rc = cmdline_usage_error(&cl, "--system-file needs --driver-store (or --discover)");
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
  for (size_t i = 0; i < cfg.listen.n; i++)
    if ((rc = check_address(&cl, "--listen", cfg.listen.items[i], 1)))
      goto out;
  if (strncmp(cfg.control, "vsock:", 6) == 0 || strncmp(cfg.control, "hvsock:", 7) == 0 ||
      strncmp(cfg.control, "tls:", 4) == 0) {
    rc = cmdline_usage_error(&cl, "--control must be a local endpoint: unix:PATH (or pipe:NAME "
                                  "on Windows), so that only administrators can reach it");
    goto out;
  }
  if ((rc = check_address(&cl, "--control", cfg.control, 1)) ||
      (cfg.http && (rc = check_http(&cl, cfg.http))))
    goto out;
  rc = 2;
  if (cfg.listen.n > HOSTD_MAX_LISTENERS) {
    rc = cmdline_usage_error(&cl, "too many --listen addresses (at most 8)");
    goto out;
  }
  if (cfg.max_guests < cfg.max_connections) {
    rc = cmdline_usage_error(&cl, "--max-guests must be at least --max-connections, so that a "
                                  "connecting guest always finds a record");
    goto out;
  }
  if (cfg.retry_max_ms < cfg.retry_min_ms) {
    rc = cmdline_usage_error(&cl, "--retry-max-ms must be at least --retry-min-ms");
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

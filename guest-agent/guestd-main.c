/* gpupv-guestd: keeps this VM's copy of the host's GPU driver files in step with the host. */
#include "common/cmdline.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/os.h"
#include "common/path.h"
#include "common/platform.h"
#include "common/text.h"
#include "guest-agent/adapters.h"
#include "guest-agent/bundle-install.h"
#include "guest-agent/guestd.h"
#include "guest-agent/help.h"
#include "guest-agent/pin.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: gpupv-guestd [OPTIONS]\n"
    "       gpupv-guestd install [--config FILE] | uninstall   (Windows service)\n"
    "\n"
    "Connects to gpupv-hostd on the VM's host, installs the host's GPU driver\n"
    "generation atomically (previous generation kept for rollback) and reports the\n"
    "guest's GPU status. Linux: under ROOT/usr/lib/wsl. Windows: under\n"
    "ROOT\\HostDriverStore\\FileRepository, where ROOT is System32.\n"
    "\n"
    "Options (a --config file takes the same names as JSON keys; flags override it):\n";

/* The probe runs this in a process of its own: it loads a library the host published. */
static int adapters(const struct guestd_config *cfg) {
  char lib[1200];
  snprintf(lib, sizeof lib, "%s/usr/lib/wsl/lib/libdxcore.so",
           strcmp(cfg->root, "/") == 0 ? "" : cfg->root);
  cJSON *o = adapters_query(lib);
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  if (text)
    printf("%s\n", text);
  cJSON_free(text);
  int ok = o && !cJSON_GetObjectItemCaseSensitive(o, "error");
  cJSON_Delete(o);
  return ok ? 0 : 1;
}

static int rollback(struct guestd_config *cfg) {
  struct store s;
  char err[512];
  if (store_init(&s, cfg->root)) {
    fprintf(stderr, "gpupv-guestd: root path too long\n");
    return 1;
  }
  if (store_rollback(&s, err, sizeof err)) {
    fprintf(stderr, "gpupv-guestd: rollback: %s\n", err);
    return 1;
  }
  uint8_t cur[HASH_LEN];
  char hex[HASH_HEX_LEN + 1] = "?";
  if (store_current(&s, cur))
    hash_to_hex(cur, hex);
  /* the rollback sticks: the host pushes nothing until --unpin or gpupv push --force */
  int rc = fs_mkdir_p(cfg->state_dir, 0700);
  if (!rc)
    rc = pin_write(cfg->state_dir, cur);
  if (rc) {
    fprintf(stderr,
            "gpupv-guestd: rolled back to generation %.12s, but cannot pin it (%s): the host "
            "may push its generation again\n",
            hex, gpupv_strerror(rc));
    return 1;
  }
  printf("rolled back to generation %.12s, and pinned there: the host pushes nothing until\n"
         "`gpupv-guestd --unpin` here or `gpupv push --guest %s --force` on the host\n",
         hex, cfg->name ? cfg->name : "NAME");
  return 0;
}

static int prune_legacy(struct guestd_config *cfg) {
  struct store s;
  char report[4096];
  if (store_init(&s, cfg->root)) {
    fprintf(stderr, "gpupv-guestd: root path too long\n");
    return 1;
  }
  int err = store_prune_legacy(&s, report, sizeof report);
  fputs(*report ? report : "no folders from a manual install to remove\n", stdout);
  if (err)
    fprintf(stderr, "gpupv-guestd: prune-legacy: %s\n", gpupv_strerror(err));
  return err ? 1 : 0;
}

/* Installs an offline bundle, holding the state folder's lock as the agent does. */
static int install_bundle(const struct guestd_config *cfg) {
  struct store s;
  struct host_key trusted;
  char lock_path[1100], err[2048], note[1024], warn[1024];
  int lock_fd = -1, rc = 1;
  long holder = 0;
  if (store_init(&s, cfg->root)) {
    fprintf(stderr, "gpupv-guestd: root path too long\n");
    return 1;
  }
  snprintf(lock_path, sizeof lock_path, "%s/lock", cfg->state_dir);
  int e = fs_mkdir_p(cfg->state_dir, 0700);
  if (!e)
    e = fs_lock_exclusive(lock_path, &lock_fd, &holder);
  if (e == UV_EBUSY) {
    fprintf(stderr,
            "gpupv-guestd: the agent (PID %ld) is running on %s; stop it first (systemctl stop "
            "gpupv-guestd), install the bundle, then start it again\n",
            holder, cfg->state_dir);
    return 1;
  }
  if (e) {
    fprintf(stderr, "gpupv-guestd: %s: %s\n", lock_path, gpupv_strerror(e));
    return 1;
  }
  if (host_key_load(&trusted, cfg->state_dir, cfg->host_key) == 0) {
    if (bundle_install(cfg->install_bundle, &s, &trusted, err, sizeof err, note, sizeof note, warn,
                       sizeof warn) == 0) {
      printf("%s\n", note);
      if (*warn)
        fprintf(stderr, "gpupv-guestd: warning: %s\n", warn);
      rc = 0;
    } else {
      fprintf(stderr, "gpupv-guestd: --install-bundle %s: %s\n", cfg->install_bundle, err);
    }
  }
  fs_close(lock_fd);
  return rc;
}

/* Prints this guest's key (made when missing): the line for the host's --allow-guest-keys. */
static int show_key(const struct guestd_config *cfg) {
  struct sign_key *k;
  if (guestd_load_guest_key(cfg->state_dir, &k))
    return 1;
  uint8_t pub[SIGN_KEY_LEN];
  char hex[2 * SIGN_KEY_LEN + 1];
  sign_key_public(k, pub);
  text_hex_encode(pub, SIGN_KEY_LEN, hex);
  sign_key_free(k);
  printf("%s %s\n", hex, cfg->name ? cfg->name : "");
  return 0;
}

static int unpin(struct guestd_config *cfg) {
  int err = pin_clear(cfg->state_dir);
  if (err) {
    fprintf(stderr, "gpupv-guestd: unpin: %s\n", gpupv_strerror(err));
    return 1;
  }
  printf("unpinned: the host brings this guest to its generation again\n");
  return 0;
}

static int start(void *g, uv_loop_t *loop, void *cfg) {
  return guestd_start(g, loop, cfg);
}

static void stop(void *g) {
  guestd_stop(g);
}

static void done(void *g) {
  guestd_done(g);
}

static int run(int argc, char **argv) {
  const struct platform_defaults *def = platform_defaults();
  struct guestd_config cfg = {.ready_fd = -1, .report_interval_s = GUESTD_REPORT_INTERVAL_S};
  int help = 0, version = 0;
  /* this platform's defaults, in its own words */
  char connect_help[200], root_help[300], state_help[300];
  snprintf(connect_help, sizeof connect_help, "the host agent (default %s)", def->guest_connect);
  snprintf(root_help, sizeof root_help, "install under this root (default %s)", def->guest_root);
  snprintf(state_help, sizeof state_help, "agent state (default %s)", def->guest_state);
  const struct opt opts[] = {
      {"config", 'c', OPT_STRING, &cfg.config, "FILE", "read settings from a JSON file", 0, 0},
      {"connect", 0, OPT_STRING, &cfg.connect, "URI", connect_help, 0, 0},
      {"root", 0, OPT_STRING, &cfg.root, "DIR", root_help, 0, 0},
      {"state-dir", 0, OPT_STRING, &cfg.state_dir, "DIR", state_help, 0, 0},
      {"name", 0, OPT_STRING, &cfg.name, "NAME", "name shown on the host (default hostname)", 0, 0},
      {"host-key", 0, OPT_STRING, &cfg.host_key, "HEX",
       "trust only this host key (default: pin the first host's key)", 0, 0},
      {"retry-max-ms", 0, OPT_INT, &cfg.retry_max_ms, "MS",
       "longest wait between reconnects (default 30000)", 100, 3600000},
      {"report-interval", 0, OPT_INT, &cfg.report_interval_s, "SECONDS",
       "report the GPU checks at least this often, and whenever one changes (default 60)", 1,
       86400},
      {"adapters", 0, OPT_FLAG, &cfg.adapters, NULL,
       "print what the GPU's driver interface (D3DKMT, through the installed libdxcore.so) "
       "says of each adapter, as JSON, and exit",
       0, 0},
      {"install-bundle", 0, OPT_STRING, &cfg.install_bundle, "FILE",
       "install an offline bundle (from `gpupv bundle`), verified and pinned as a push is, "
       "and exit",
       0, 0},
      {"show-key", 0, OPT_FLAG, &cfg.show_key, NULL,
       "print this guest's own key, which tls:// hosts see (a line for the host's "
       "--allow-guest-keys file), and exit",
       0, 0},
      {"rollback", 0, OPT_FLAG, &cfg.rollback, NULL,
       "switch back to the previous generation, pin the guest there, and exit", 0, 0},
      {"unpin", 0, OPT_FLAG, &cfg.unpin, NULL,
       "let the host push this guest again after a --rollback, and exit", 0, 0},
      {"prune-legacy", 0, OPT_FLAG, &cfg.prune_legacy, NULL,
       "remove the folders a manual install left (moved aside at the first install; listed "
       "in status as legacy), and exit",
       0, 0},
      {"ready-fd", 0, OPT_INT, &cfg.ready_fd, "FD",
       "write \"ready\" to FD once connected to the host", 0, 65535},
      CMDLINE_STANDARD_OPTIONS(&cfg.log_level, &help, &version),
  };
  char err[512];
  int rc = 2;
  const struct cmdline cl = {"gpupv-guestd", usage,          guestd_epilog, opts,
                             &cfg.config,    &cfg.log_level, &help,         &version};
  if ((rc = cmdline_parse(&cl, argc, argv)) >= 0)
    goto out;
  rc = 2;
  if (!cfg.root)
    cfg.root = strdup(def->guest_root);
  if (!path_is_absolute(cfg.root)) {
    rc = cmdline_usage_error(&cl, "--root must be an absolute path");
    goto out;
  }
  if (!cfg.state_dir)
    cfg.state_dir = strdup(def->guest_state);
  if (cfg.rollback + cfg.unpin + cfg.prune_legacy + (cfg.install_bundle != NULL) > 1) {
    rc = cmdline_usage_error(
        &cl, "give one of --rollback, --unpin, --prune-legacy and --install-bundle");
    goto out;
  }
  if (cfg.adapters) {
    rc = adapters(&cfg);
    goto out;
  }
  if (cfg.show_key) {
    if (!cfg.name) {
      char host[64];
      platform_hostname(host, sizeof host, "guest");
      cfg.name = strdup(host);
    }
    rc = show_key(&cfg);
    goto out;
  }
  if (cfg.install_bundle) {
    rc = install_bundle(&cfg);
    goto out;
  }
  if (cfg.rollback || cfg.unpin || cfg.prune_legacy) {
    rc = cfg.rollback ? rollback(&cfg) : cfg.unpin ? unpin(&cfg) : prune_legacy(&cfg);
    goto out;
  }
  if (!cfg.connect)
    cfg.connect = strdup(def->guest_connect);
  struct uri u;
  const char *reason;
  if (uri_parse(cfg.connect, &u, &reason) || transport_check(&u, 0, &reason)) {
    snprintf(err, sizeof err, "--connect %s: %s", cfg.connect, reason);
    rc = cmdline_usage_error(&cl, err);
    goto out;
  }
  uint8_t key[SIGN_KEY_LEN];
  if (cfg.host_key && text_hex_decode(cfg.host_key, key, SIGN_KEY_LEN)) {
    rc = cmdline_usage_error(&cl, "--host-key must be 64 lower-case hex digits (the host's key "
                                  "from `gpupv status`)");
    goto out;
  }
  if (!cfg.name) {
    char host[64];
    platform_hostname(host, sizeof host, "guest");
    cfg.name = strdup(host);
  }
  if (!*cfg.name || strlen(cfg.name) > 63) {
    rc = cmdline_usage_error(&cl, "--name must be 1 to 63 bytes");
    goto out;
  }
  static const struct agent_life life = {start, stop, done};
  struct guestd g;
  rc = cmdline_run_agent("gpupv-guestd", &life, &g, &cfg);
out:
  options_free(opts);
  return rc;
}

int main(int argc, char **argv) {
  os_init_process();
  const struct service_spec spec = {
      .name = "gpupv-guestd",
      .display_name = "gpupv guest agent",
      .description = "Keeps this VM's copy of the host's GPU driver files in step with the host.",
  };
  int rc = service_command(&spec, argc, argv);
  return rc >= 0 ? rc : service_run(spec.name, run, argc, argv);
}

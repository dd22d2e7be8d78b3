/* gpupv: the host CLI. Talks to gpupv-hostd over its control socket. */
#include "cli/bundle-writer.h"
#include "cli/cli-render.h"
#include "cli/doctor.h"
#include "cli/nanabox.h"
#include "common/err.h"
#include "common/log.h"
#include "common/options.h"
#include "common/os.h"
#include "common/peer-text.h"
#include "common/platform.h"
#include "net/transport.h"
#include "proto/status-doc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLI_RETRY_MS 100
#define CLI_STATUS_TIMEOUT_MS 30000

/* Documents that follow a reply as data frames: the status of many guests, a manifest. */
#define CLI_DOCUMENT_MAX (256u << 20)

struct cli;
/* Handles one reply: a control message, or the document that followed one (NULL for an empty
 * document). Returns 1 when the exchange is over. */
typedef int (*cli_reply_cb)(struct cli *cl, enum msg_type type, const cJSON *msg);
/* Data frames of a stream (gpupv bundle), as they come. Returns 1 when the exchange is over. */
typedef int (*cli_stream_cb)(struct cli *cl, const uint8_t *data, size_t len);

struct cli {
  uv_loop_t loop;
  struct conn *c;
  const char *control;
  cJSON *request;
  cli_reply_cb on_reply;
  cli_stream_cb on_stream; /* set: data frames are a stream, not documents */
  int rc, finished, json;
  const char *guest_filter; /* gpupv status GUEST */
  int colour;
  /* --connect-timeout: keep trying to reach an agent that is still starting */
  uint64_t connect_timeout_ms, connect_deadline_ms;
  uint64_t reply_timeout_ms; /* 0: wait as long as the host agent works (a waited push) */
  uv_timer_t reply_timer;
  int retrying;
  uv_timer_t retry;
  struct uri uri;
  /* the document being received */
  enum msg_type data_type;
  uint64_t data_expected;
  int data_pending;
  struct buf data;
};

static void cli_finish(struct cli *cl, int rc) {
  if (rc)
    cl->rc = rc;
  cl->finished = 1;
  uv_timer_stop(&cl->reply_timer);
  if (cl->c)
    conn_close(cl->c, 0);
}

static int cli_on_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct cli *cl = c->owner;
  if (cl->data_pending) {
    fprintf(stderr, "gpupv: the host agent sent a message inside a document\n");
    cli_finish(cl, 1);
    return 0;
  }
  if (type == MSG_ERROR) {
    const char *text = NULL;
    char clean[1024];
    msg_get_str_opt(msg, "message", 16384, &text);
    peer_text_clean(text ? text : "?", text ? strlen(text) : 1, clean, sizeof clean);
    fprintf(stderr, "gpupv: the host agent refused the request: %s\n", clean);
    cli_finish(cl, 1);
    return 0;
  }
  if (!cl->on_stream && cJSON_GetObjectItemCaseSensitive(msg, "size")) {
    /* a document follows as data frames */
    if (msg_get_u64(msg, "size", CLI_DOCUMENT_MAX, &cl->data_expected)) {
      fprintf(stderr, "gpupv: the host agent announced a document of a bad size\n");
      cli_finish(cl, 1);
      return 0;
    }
    cl->data_type = type;
    cl->data.len = 0;
    if (cl->data_expected) {
      cl->data_pending = 1;
      return 0;
    }
    msg = NULL; /* an empty document */
  }
  if (cl->on_reply(cl, type, msg))
    cli_finish(cl, 0);
  return 0;
}

static int cli_on_data(struct conn *c, const uint8_t *data, size_t len) {
  struct cli *cl = c->owner;
  if (cl->on_stream) {
    if (cl->on_stream(cl, data, len))
      cli_finish(cl, 0);
    return 0;
  }
  if (!cl->data_pending || cl->data.len + len > cl->data_expected) {
    fprintf(stderr, "gpupv: the host agent sent more data than announced\n");
    cli_finish(cl, 1);
    return 0;
  }
  if (buf_append(&cl->data, data, len)) {
    cli_finish(cl, 1);
    return 0;
  }
  if (cl->data.len < cl->data_expected)
    return 0;
  cl->data_pending = 0;
  cJSON *doc = cJSON_ParseWithLength((const char *)cl->data.data, cl->data.len);
  if (!cJSON_IsObject(doc)) {
    fprintf(stderr, "gpupv: the host agent sent a %s document that is not a JSON object\n",
            msg_type_name(cl->data_type));
    cJSON_Delete(doc);
    cli_finish(cl, 1);
    return 0;
  }
  int over = cl->on_reply(cl, cl->data_type, doc);
  cJSON_Delete(doc);
  if (over)
    cli_finish(cl, 0);
  return 0;
}

static void cli_on_close(struct conn *c, int reason) {
  struct cli *cl = c->owner;
  cl->c = NULL;
  if (!cl->retrying)
    uv_timer_stop(&cl->reply_timer);
  if (!cl->finished && !cl->retrying) {
    fprintf(stderr, "gpupv: lost the connection to the host agent at %s%s%s\n", cl->control,
            reason && reason != UV_EOF ? ": " : "",
            reason && reason != UV_EOF ? gpupv_strerror(reason) : "");
    cl->rc = 1;
  }
}

static const struct conn_ops cli_ops = {cli_on_control, cli_on_data, NULL, cli_on_close};

static void on_connected(struct conn *c, int status);

static void connect_now(struct cli *cl) {
  cl->retrying = 0;
  cl->c = conn_new(&cl->loop, cl->uri.kind, &cli_ops, cl);
  int err = cl->c ? transport_connect(cl->c, &cl->uri, on_connected) : UV_ENOMEM;
  if (err) {
    fprintf(stderr, "gpupv: %s: %s\n", cl->control, gpupv_strerror(err));
    if (cl->c)
      conn_close(cl->c, 0);
    cl->rc = 1;
    cl->finished = 1;
  }
}

static void on_retry(uv_timer_t *t) {
  connect_now(t->data);
}

static void on_connected(struct conn *c, int status) {
  struct cli *cl = c->owner;
  int not_yet = status == UV_ECONNREFUSED || status == UV_ENOENT;
  if (not_yet && uv_now(&cl->loop) + CLI_RETRY_MS < cl->connect_deadline_ms) {
    cl->retrying = 1;
    conn_close(c, 0);
    uv_timer_start(&cl->retry, on_retry, CLI_RETRY_MS, 0);
    return;
  }
  if (status) {
    fprintf(stderr,
            "gpupv: cannot reach the host agent at %s: %s (is gpupv-hostd running? "
            "set --control or GPUPV_CONTROL)\n",
            cl->control, uv_strerror(status));
    cl->rc = 1;
    cl->finished = 1;
    conn_close(c, 0);
    return;
  }
  conn_start(c);
  if (conn_send_msg(c, cl->request)) {
    cl->rc = 1;
    cl->finished = 1;
    conn_close(c, 0);
  }
}

static void on_reply_timeout(uv_timer_t *t) {
  struct cli *cl = t->data;
  if (cl->finished)
    return;
  fprintf(stderr, "gpupv: the host agent at %s did not answer within %llu ms\n", cl->control,
          (unsigned long long)cl->reply_timeout_ms);
  cl->retrying = 0;
  uv_timer_stop(&cl->retry);
  cli_finish(cl, 1);
}

/* Sends the request and runs until the reply handler says the exchange is over. */
static int cli_run(struct cli *cl) {
  struct uri uri;
  const char *reason = NULL;
  if (uri_parse(cl->control, &uri, &reason)) {
    fprintf(stderr, "gpupv: --control %s: %s\n", cl->control, reason);
    return 2;
  }
  uv_loop_init(&cl->loop);
  buf_init(&cl->data);
  cl->uri = uri;
  uv_timer_init(&cl->loop, &cl->retry);
  cl->retry.data = cl;
  uv_timer_init(&cl->loop, &cl->reply_timer);
  cl->reply_timer.data = cl;
  cl->connect_deadline_ms = uv_now(&cl->loop) + cl->connect_timeout_ms;
  if (cl->reply_timeout_ms)
    uv_timer_start(&cl->reply_timer, on_reply_timeout,
                   cl->connect_timeout_ms + cl->reply_timeout_ms, 0);
  connect_now(cl);
  uv_run(&cl->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&cl->retry, NULL);
  uv_close((uv_handle_t *)&cl->reply_timer, NULL);
  uv_run(&cl->loop, UV_RUN_DEFAULT);
  uv_loop_close(&cl->loop);
  buf_done(&cl->data);
  cJSON_Delete(cl->request);
  return cl->rc;
}

/* A --json line says what it is: {"type": "progress", ...} or {"type": "push_result", ...}. */
static void print_typed_json(enum msg_type type, const cJSON *doc) {
  cJSON *copy = cJSON_CreateObject();
  cJSON_AddStringToObject(copy, "type", msg_type_name(type));
  const cJSON *item;
  cJSON_ArrayForEach(item, doc) {
    cJSON_AddItemToObject(copy, item->string, cJSON_Duplicate(item, 1));
  }
  char *text = cJSON_PrintUnformatted(copy);
  if (text)
    printf("%s\n", text);
  fflush(stdout);
  cJSON_free(text);
  cJSON_Delete(copy);
}

static void print_json(const cJSON *o, int pretty) {
  char *text = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
  if (text)
    printf("%s\n", text);
  fflush(stdout);
  cJSON_free(text);
}

/* Columns of the terminal on fd ($COLUMNS first), or 0 when it is not a terminal. */
static int terminal_width(int fd) {
  if (!isatty(fd))
    return 0;
  const char *env = getenv("COLUMNS");
  if (env && atoi(env) > 0)
    return atoi(env);
  uv_loop_t loop;
  uv_tty_t tty;
  int width = 0, height = 0;
  if (uv_loop_init(&loop))
    return 80;
  if (uv_tty_init(&loop, &tty, fd, 0) == 0) {
    if (uv_tty_get_winsize(&tty, &width, &height))
      width = 0;
    uv_close((uv_handle_t *)&tty, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return width > 0 ? width : 80;
}

/* ---- gpupv status ---- */

/* By id, else by name: of several records with one name (a guest reinstalled with a new key),
 * the connected one, as the host agent picks a push's target. */
static const cJSON *find_guest(const cJSON *status, const char *name) {
  const cJSON *g, *best = NULL;
  int best_connected = 0;
  cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(status, "guests")) {
    struct status_guest_view v;
    status_doc_read_guest(g, &v);
    if (v.id && strcmp(v.id, name) == 0)
      return g;
    if (v.name && strcmp(v.name, name) == 0 && (!best || (v.connected && !best_connected))) {
      best = g;
      best_connected = v.connected;
    }
  }
  return best;
}

static int status_reply(struct cli *cl, enum msg_type type, const cJSON *msg) {
  if (type != MSG_STATUS || !msg)
    return 0;
  cJSON *copy = cJSON_Duplicate(msg, 1);
  if (cl->guest_filter) {
    const cJSON *g = find_guest(copy, cl->guest_filter);
    if (!g) {
      fprintf(stderr, "gpupv status: no guest named %s has connected to this host\n",
              cl->guest_filter);
      cl->rc = 1;
    } else if (cl->json) {
      print_json(g, 1);
    } else {
      render_guest(stdout, g, cJSON_GetObjectItemCaseSensitive(copy, "host"), cl->colour);
    }
  } else if (cl->json) {
    print_json(copy, 1);
  } else {
    render_status(stdout, copy, cl->colour, terminal_width(1));
  }
  fflush(stdout);
  cJSON_Delete(copy);
  return 1;
}

static int status_main(struct cli *cl, int argc, char **argv) {
  int help = 0, watch = 0;
  long interval = 2;
  const struct opt opts[] = {
      {"json", 0, OPT_FLAG, &cl->json, NULL, "print the status document as JSON", 0, 0},
      {"watch", 'w', OPT_FLAG, &watch, NULL, "refresh until interrupted", 0, 0},
      {"interval", 'n', OPT_INT, &interval, "SECS", "seconds between refreshes (default 2)", 1,
       3600},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next;
  /* options may come before or after the one GUEST argument */
  int rest = 0;
  if (options_parse(opts, argc, argv, 1, &next, err, sizeof err) ||
      (next < argc && options_parse(opts, argc - next, argv + next, 1, &rest, err, sizeof err))) {
    fprintf(stderr, "gpupv status: %s\n", err);
    return 2;
  }
  if (next < argc && rest < argc - next) {
    fprintf(stderr, "gpupv status: give at most one guest\n");
    return 2;
  }
  if (help) {
    printf("Usage: gpupv status [GUEST] [--json] [--watch [--interval SECS]]\n\n"
           "Shows the host's generation and every guest: connected, installed generation,\n"
           "in sync, GPU health and the last push. With GUEST, everything about that guest,\n"
           "GPU probes included. On a terminal the table fits its width and has colour\n"
           "(never with NO_COLOR set).\n\n");
    options_print_help(stdout, opts);
    return 0;
  }
  if (watch && cl->json) {
    fprintf(stderr, "gpupv status: --watch is for people; use --json without it\n");
    return 2;
  }
  cl->guest_filter = next < argc ? argv[next] : NULL;
  const char *no_colour = getenv("NO_COLOR");
  cl->colour = isatty(1) && !(no_colour && *no_colour);
  cl->reply_timeout_ms = CLI_STATUS_TIMEOUT_MS;
  time_t down_since = 0;
  for (;;) {
    cl->request = msg_new(MSG_GET_STATUS);
    cl->on_reply = status_reply;
    cl->finished = 0;
    cl->rc = 0;
    if (watch && isatty(1))
      printf("\033[H\033[2J"); /* home and clear: a steady screen rather than a scroll */
    fflush(stdout);
    int rc = cli_run(cl);
    if (!watch)
      return rc;
    if (rc == 2)
      return rc;
    if (rc) {
      /* keep trying, and say so: a frozen screen would look like a healthy one */
      if (!down_since)
        down_since = time(NULL);
      char when[32];
      struct tm tm;
      localtime_r(&down_since, &tm);
      strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
      printf("host agent unreachable since %s; trying again every %ld s (Ctrl-C to stop)\n", when,
             interval);
    } else {
      down_since = 0;
      printf("\n(every %ld s; Ctrl-C to stop)\n", interval);
    }
    fflush(stdout);
    sleep((unsigned)interval);
  }
}

/* ---- gpupv manifest ---- */

static int manifest_reply(struct cli *cl, enum msg_type type, const cJSON *m) {
  if (type != MSG_MANIFEST)
    return 0;
  if (!m) {
    fprintf(stderr, "gpupv: the host has not published a generation yet\n");
    cl->rc = 1;
    return 1;
  }
  if (cl->json)
    print_json(m, 1);
  else
    render_manifest(stdout, m);
  return 1;
}

static int manifest_main(struct cli *cl, int argc, char **argv) {
  int help = 0;
  const struct opt opts[] = {
      {"json", 0, OPT_FLAG, &cl->json, NULL, "print the canonical manifest as JSON", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next;
  if (options_parse(opts, argc, argv, 0, &next, err, sizeof err)) {
    fprintf(stderr, "gpupv manifest: %s\n", err);
    return 2;
  }
  if (help) {
    printf("Usage: gpupv manifest [--json]\n\nShows what the host publishes: packages with "
           "driver version and\nvendor, and libraries.\n\n");
    options_print_help(stdout, opts);
    return 0;
  }
  cl->request = msg_new(MSG_GET_MANIFEST);
  cl->on_reply = manifest_reply;
  return cli_run(cl);
}

/* ---- gpupv push ---- */

static int push_reply(struct cli *cl, enum msg_type type, const cJSON *msg) {
  int tty = isatty(2);
  if (!msg)
    return 0;
  if (type == MSG_PROGRESS) {
    if (cl->json)
      print_typed_json(type, msg);
    else if (tty)
      render_progress(stderr, msg, terminal_width(2));
    return 0;
  }
  if (type != MSG_PUSH_RESULT)
    return 0;
  if (tty && !cl->json)
    fprintf(stderr, "\r\033[K");
  struct status_result_view result;
  status_doc_read_result(msg, &result);
  int ok = result.ok;
  if (cl->json)
    print_typed_json(type, msg);
  else
    render_push_result(ok ? stdout : stderr, msg);
  cl->rc = ok ? 0 : 1;
  return 1;
}

static int push_main(struct cli *cl, int argc, char **argv) {
  int help = 0, all = 0, wait = 0, force = 0;
  long timeout = 0;
  char *guest = NULL;
  const struct opt opts[] = {
      {"guest", 'g', OPT_STRING, &guest, "NAME", "push to this guest (waits for it to connect)", 0,
       0},
      {"all", 'a', OPT_FLAG, &all, NULL, "push to every connected guest (the default)", 0, 0},
      {"wait", 'w', OPT_FLAG, &wait, NULL, "wait until the guests have the host's generation", 0,
       0},
      {"force", 'f', OPT_FLAG, &force, NULL,
       "push a guest even though a rollback pinned it (ends the pin)", 0, 0},
      {"timeout", 't', OPT_INT, &timeout, "SECS", "give up waiting after SECS (default 600)", 1,
       86400},
      {"json", 0, OPT_FLAG, &cl->json, NULL, "print progress and the result as JSON lines", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next, rc = 2;
  if (options_parse(opts, argc, argv, 0, &next, err, sizeof err)) {
    fprintf(stderr, "gpupv push: %s\n", err);
    goto out;
  }
  if (help) {
    printf("Usage: gpupv push [--guest NAME | --all] [--wait [--timeout SECS]] [--force]\n"
           "                  [--json]\n\n"
           "Rescans the host's driver source and pushes its generation to the guests. A\n"
           "guest in sync checks its copy against its records and puts back what was\n"
           "changed, so only that content travels. With --wait, exits 0 only once every\n"
           "targeted guest has it installed; on a terminal a bar per guest shows the phase,\n"
           "percentage, rate and ETA.\n\n");
    options_print_help(stdout, opts);
    rc = 0;
    goto out;
  }
  if (guest && all) {
    fprintf(stderr, "gpupv push: give --guest NAME or --all, not both\n");
    goto out;
  }
  if (timeout && !wait) {
    fprintf(stderr, "gpupv push: --timeout only applies with --wait\n");
    goto out;
  }
  cl->request = msg_new(MSG_PUSH);
  cJSON_AddItemToObject(cl->request, "guest",
                        guest ? cJSON_CreateString(guest) : cJSON_CreateNull());
  cJSON_AddBoolToObject(cl->request, "wait", wait);
  cJSON_AddBoolToObject(cl->request, "force", force);
  cJSON_AddNumberToObject(cl->request, "timeout_ms", (double)(timeout ? timeout : 600) * 1000);
  cl->on_reply = push_reply;
  if (isatty(2) && !cl->json)
    fprintf(stderr, "scanning the host's driver source...\n"); /* the first phase */
  rc = cli_run(cl);
out:
  free(guest);
  return rc;
}

/* ---- gpupv dashboard ---- */

static int login_reply(struct cli *cl, enum msg_type type, const cJSON *msg) {
  if (type != MSG_LOGIN_URL)
    return 0;
  const char *url = NULL;
  if (msg_get_str(msg, "url", 255, &url) || !peer_text_is_clean(url)) {
    fprintf(stderr, "gpupv dashboard: the host agent sent a bad login link\n");
    cl->rc = 1;
    return 1;
  }
  if (cl->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", url);
    print_json(o, 0);
    cJSON_Delete(o);
  } else {
    printf("Open this link in a browser on this machine to push from the dashboard:\n\n"
           "  %s\n\n"
           "It works once, within 10 minutes; the browser then stays logged in for 12 hours.\n"
           "Anyone on this machine can look at the dashboard without it.\n",
           url);
  }
  return 1;
}

static int dashboard_main(struct cli *cl, int argc, char **argv) {
  int help = 0;
  const struct opt opts[] = {
      {"json", 0, OPT_FLAG, &cl->json, NULL, "print {\"url\": ...} as JSON", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next;
  if (options_parse(opts, argc, argv, 0, &next, err, sizeof err)) {
    fprintf(stderr, "gpupv dashboard: %s\n", err);
    return 2;
  }
  if (help) {
    printf("Usage: gpupv dashboard [--json]\n\n"
           "Prints a one-time link that logs this machine's browser in to the host agent's\n"
           "dashboard, so that it may push. Reading the dashboard needs no login; pushing\n"
           "does, and only who can open the control socket (an administrator) gets a link.\n\n");
    options_print_help(stdout, opts);
    return 0;
  }
  cl->request = msg_new(MSG_LOGIN);
  cl->on_reply = login_reply;
  cl->reply_timeout_ms = CLI_STATUS_TIMEOUT_MS;
  return cli_run(cl);
}

/* ---- gpupv bundle ---- */

static struct bundle_writer *bundle_out;
static const char *bundle_path;

/* A bundle that cannot be finished: says why and leaves no file. */
static int bundle_failed(struct cli *cl, const char *why) {
  fprintf(stderr, "gpupv bundle: %s; no bundle written\n", why);
  bundle_writer_abort(bundle_out);
  bundle_out = NULL;
  cl->rc = 1;
  return 1;
}

static int bundle_reply(struct cli *cl, enum msg_type type, const cJSON *msg) {
  char err[1400];
  int rc = 0;
  if (type == MSG_BUNDLE) {
    struct bundle_header h;
    const char *reason;
    if (bundle_header_parse(msg, &h, &reason)) {
      snprintf(err, sizeof err, "the host agent sent a bad bundle header (%s)", reason);
      return bundle_failed(cl, err);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(h.created, sizeof h.created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    rc = bundle_writer_header(bundle_out, &h, err, sizeof err);
  } else if (type == MSG_BUNDLE_BLOB) {
    uint8_t sha[HASH_LEN];
    uint64_t size;
    if (msg_get_hash(msg, "sha256", sha) || msg_get_u64(msg, "size", MSG_U64_MAX, &size))
      return bundle_failed(cl, "the host agent sent a bad blob header");
    rc = bundle_writer_blob(bundle_out, sha, size, err, sizeof err);
  } else if (type == MSG_BUNDLE_END) {
    uint64_t size = 0;
    struct bundle_writer *w = bundle_out;
    bundle_out = NULL;
    if ((rc = bundle_writer_finish(w, &size, err, sizeof err))) {
      bundle_out = w;
      return bundle_failed(cl, err);
    }
    printf("wrote %s (%llu bytes)\n", bundle_path, (unsigned long long)size);
    return 1;
  } else {
    return bundle_failed(cl, "the host agent answered with something else than a bundle");
  }
  return rc ? bundle_failed(cl, err) : 0;
}

static int bundle_data(struct cli *cl, const uint8_t *data, size_t len) {
  char err[1400];
  if (!bundle_out)
    return 1;
  return bundle_writer_data(bundle_out, data, len, err, sizeof err) ? bundle_failed(cl, err) : 0;
}

static int bundle_main(struct cli *cl, int argc, char **argv) {
  int help = 0;
  char *out = NULL, *agent = NULL, *compression = NULL;
  const struct opt opts[] = {
      {"out", 'o', OPT_STRING, &out, "FILE", "write the bundle here (required)", 0, 0},
      {"with-agent", 0, OPT_STRING, &agent, "FILE",
       "also carry this file: the guest agent's package (gpupv-guest_*.deb) or .exe", 0, 0},
      {"compression", 0, OPT_STRING, &compression, "zstd|gzip|none",
       "how the tar archive is compressed (default zstd)", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next, rc = 2;
  enum bundle_compression how = BUNDLE_ZSTD;
  if (options_parse(opts, argc, argv, 0, &next, err, sizeof err)) {
    fprintf(stderr, "gpupv bundle: %s\n", err);
    goto out;
  }
  if (help) {
    printf("Usage: gpupv bundle --out FILE [--with-agent FILE] [--compression zstd|gzip|none]\n\n"
           "Writes what the host publishes into one archive, for a guest with no connection\n"
           "to the host yet: the signed manifest and every blob, and optionally the guest\n"
           "agent's package. Install it in the guest with\n"
           "`gpupv-guestd --install-bundle FILE`: it is verified and pinned as a push is.\n"
           "See docs/bundles.md for getting it into a VM.\n\n");
    options_print_help(stdout, opts);
    rc = 0;
    goto out;
  }
  if (!out) {
    fprintf(stderr, "gpupv bundle: give --out FILE\n");
    goto out;
  }
  if (compression && strcmp(compression, "zstd") != 0) {
    if (strcmp(compression, "gzip") == 0)
      how = BUNDLE_GZIP;
    else if (strcmp(compression, "none") == 0)
      how = BUNDLE_NONE;
    else {
      fprintf(stderr, "gpupv bundle: --compression is zstd, gzip or none\n");
      goto out;
    }
  }
  char why[1400];
  if (agent && access(agent, R_OK) != 0) {
    fprintf(stderr, "gpupv bundle: --with-agent %s: %s\n", agent, strerror(errno));
    goto out;
  }
  if (bundle_writer_open(out, how, agent, &bundle_out, why, sizeof why)) {
    fprintf(stderr, "gpupv bundle: %s\n", why);
    rc = 1;
    goto out;
  }
  bundle_path = out;
  cl->request = msg_new(MSG_GET_BUNDLE);
  cl->on_reply = bundle_reply;
  cl->on_stream = bundle_data;
  rc = cli_run(cl);
  if (bundle_out) { /* the connection ended first */
    bundle_writer_abort(bundle_out);
    bundle_out = NULL;
    if (!rc)
      rc = 1;
  }
out:
  free(out);
  free(agent);
  free(compression);
  return rc;
}

static int doctor_answered;

static int doctor_reply(struct cli *cl, enum msg_type type, const cJSON *msg) {
  if (type != MSG_STATUS || !msg)
    return 0;
  doctor_answered = 1;
  struct doctor d = {stdout, cl->colour, 0, 0};
  doctor_platform(&d);
  doctor_status(&d, msg);
  fprintf(stdout, "\n%d failing, %d warning%s\n", d.fails, d.warns, d.warns == 1 ? "" : "s");
  cl->rc = d.fails ? 1 : 0;
  fflush(stdout);
  return 1;
}

static int doctor_main(struct cli *cl, int argc, char **argv) {
  int help = 0;
  const struct opt opts[] = {
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  int next;
  if (options_parse(opts, argc, argv, 0, &next, err, sizeof err)) {
    fprintf(stderr, "gpupv doctor: %s\n", err);
    return 2;
  }
  if (help) {
    printf("Usage: gpupv doctor\n\n"
           "Says what stands between this host and working GPUs in its guests, each finding\n"
           "with its fix: the source scan, the WSL libraries, the dashboard, every guest's\n"
           "failing GPU checks and stale reports, and on Windows the Hyper-V socket service\n"
           "and the partitionable GPUs. Exits 0 only when nothing fails.\n\n");
    options_print_help(stdout, opts);
    return 0;
  }
  const char *no_colour = getenv("NO_COLOR");
  cl->colour = isatty(1) && !(no_colour && *no_colour);
  cl->request = msg_new(MSG_GET_STATUS);
  cl->on_reply = doctor_reply;
  cl->reply_timeout_ms = CLI_STATUS_TIMEOUT_MS;
  int rc = cli_run(cl);
  if (rc && !doctor_answered) {
    struct doctor d = {stdout, cl->colour, 0, 0};
    doctor_platform(&d);
    doctor_say(&d, DOCTOR_FAIL, "host agent", "gpupv-hostd does not answer on its control socket",
               "start it: systemctl start gpupv-hostd (Windows: sc start gpupv-hostd)");
  }
  return rc;
}

static int nanabox_main(struct cli *cl, int argc, char **argv) {
  (void)cl; /* a file of the VM's, no host agent needed */
  return nanabox_command(argc, argv);
}

struct command {
  const char *name;
  int (*main)(struct cli *cl, int argc, char **argv);
  const char *help;
};

static const struct command commands[] = {
    {"push", push_main, "push the host's driver generation to guests"},
    {"status", status_main, "show the host's generation and every guest"},
    {"manifest", manifest_main, "show what the host publishes"},
    {"bundle", bundle_main, "write what the host publishes into one file, for offline guests"},
    {"dashboard", dashboard_main, "print a one-time link that lets this browser push"},
    {"nanabox", nanabox_main, "show or set a NanaBox VM's GPU assignment"},
    {"doctor", doctor_main, "say what keeps the guests' GPUs from working, with fixes"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out) {
  fprintf(out, "Usage: gpupv [--control URI] COMMAND [OPTIONS]\n\n"
               "Drives gpupv-hostd, which keeps GPU-PV guests on the host's GPU driver.\n\n"
               "Commands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->help);
  fprintf(out,
          "\nOptions:\n"
          "  --control URI   the host agent's control socket (default $GPUPV_CONTROL or\n"
          "                  %s)\n"
          "  --connect-timeout MS  keep trying this long while the host agent starts\n"
          "  -h, --help      show this help; gpupv help COMMAND (or COMMAND --help) shows a\n"
          "                  command's options\n"
          "  -V, --version   show the version\n",
          platform_defaults()->control);
}

int main(int argc, char **argv) {
  struct cli cl;
  char *control = NULL;
  int help = 0, version = 0, next, rc = 2;
  long connect_timeout = 0;
  const struct opt opts[] = {
      {"control", 0, OPT_STRING, &control, "URI", "control socket", 0, 0},
      {"connect-timeout", 0, OPT_INT, &connect_timeout, "MS",
       "keep trying to reach a starting host agent this long", 0, 3600000},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {"version", 'V', OPT_FLAG, &version, NULL, "show the version", 0, 0},
      {0},
  };
  char err[256];
  memset(&cl, 0, sizeof cl);
  os_init_process();
  log_init("gpupv", LOG_WARN);
  if (options_parse(opts, argc, argv, 1, &next, err, sizeof err)) {
    fprintf(stderr, "gpupv: %s\n", err);
    goto out;
  }
  if (help || version || next >= argc) {
    if (version)
      printf("gpupv %s (protocol %d)\n", GPUPV_VERSION, PROTO_VERSION);
    else
      usage(help ? stdout : stderr);
    rc = help || version ? 0 : 2;
    goto out;
  }
  const char *env = getenv("GPUPV_CONTROL");
  cl.control = control ? control : env && *env ? env : platform_defaults()->control;
  cl.connect_timeout_ms = (uint64_t)connect_timeout;
  /* gpupv help [COMMAND] is --help by another name */
  char *help_argv[] = {NULL, "--help", NULL};
  if (strcmp(argv[next], "help") == 0) {
    if (next + 1 >= argc) {
      usage(stdout);
      rc = 0;
      goto out;
    }
    help_argv[0] = argv[next + 1];
    argv = help_argv;
    argc = 2;
    next = 0;
  }
  for (const struct command *c = commands; c->name; c++) {
    if (strcmp(c->name, argv[next]) == 0) {
      rc = c->main(&cl, argc - next, argv + next);
      goto out;
    }
  }
  fprintf(stderr, "gpupv: unknown command '%s' (see gpupv --help)\n", argv[next]);
out:
  free(control);
  return rc;
}

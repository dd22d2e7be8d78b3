#include "cli/doctor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char *const words[] = {"ok", "warn", "fail"};
static const char *const tints[] = {"\033[32m", "\033[33m", "\033[31m"};

void doctor_say(struct doctor *d, enum doctor_level level, const char *what, const char *detail,
                const char *fix) {
  d->fails += level == DOCTOR_FAIL;
  d->warns += level == DOCTOR_WARN;
  if (d->colour)
    fprintf(d->out, "%s%-4s\033[0m %-24s %s\n", tints[level], words[level], what, detail);
  else
    fprintf(d->out, "%-4s %-24s %s\n", words[level], what, detail);
  if (fix && level != DOCTOR_OK)
    fprintf(d->out, "     %-24s fix: %s\n", "", fix);
}

static const char *text(const cJSON *o, const char *key, const char *fallback) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : fallback;
}

static double number(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int flag(const cJSON *o, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void doctor_host(struct doctor *d, const cJSON *host) {
  char detail[700];
  const char *scan_error = text(host, "scan_error", NULL);
  int packages = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(host, "packages"));
  if (scan_error) {
    snprintf(detail, sizeof detail, "%.600s", scan_error);
    doctor_say(d, DOCTOR_FAIL, "source scan", detail,
               "check --driver-store, --package and the library folders (gpupv-hostd --help); "
               "with --discover, that the GPU's driver is installed");
  } else if (!packages) {
    doctor_say(d, DOCTOR_FAIL, "source scan", "no driver package is published",
               "give --driver-store (and --package), or --discover on a Windows host");
  } else {
    snprintf(detail, sizeof detail, "%d package(s), %.0f libraries, %.0f system file(s)", packages,
             number(host, "libs"), number(host, "system_files"));
    doctor_say(d, DOCTOR_OK, "source scan", detail, NULL);
  }
  if (number(host, "libs") > 0)
    doctor_say(d, DOCTOR_OK, "WSL libraries", "published for Linux guests", NULL);
  else
    doctor_say(d, DOCTOR_WARN, "WSL libraries", "none published: Linux guests get no libdxcore.so",
               "on the Windows host: wsl --install (or wsl --update); elsewhere --lib-packaged or "
               "--wsl-msix, and --lib-inbox for the vendor's lxss\\lib");
  const cJSON *watch = cJSON_GetObjectItemCaseSensitive(host, "watch");
  if (cJSON_IsObject(watch) && flag(watch, "enabled") && number(watch, "unwatchable") > 0) {
    snprintf(detail, sizeof detail, "%.0f folder(s) of the source cannot be watched",
             number(watch, "unwatchable"));
    doctor_say(d, DOCTOR_WARN, "source watch", detail,
               "raise fs.inotify.max_user_watches, or rely on --rescan-interval");
  }
  const char *url = text(host, "dashboard", NULL);
  if (url) {
    int code = doctor_http_get(url, "/api/status");
    snprintf(detail, sizeof detail, "%s answers %d", url, code);
    doctor_say(d, code == 200 ? DOCTOR_OK : DOCTOR_FAIL, "dashboard",
               code < 0 ? "the dashboard does not answer" : detail,
               "check --http and that nothing else holds its port");
  }
}

static void doctor_guest(struct doctor *d, const cJSON *g) {
  char what[120], detail[900];
  snprintf(what, sizeof what, "guest %.100s", text(g, "name", "?"));
  const cJSON *gpu = cJSON_GetObjectItemCaseSensitive(g, "gpu"), *c;
  int connected = flag(g, "connected"), in_sync = flag(g, "in_sync"), said = 0;
  if (!in_sync) {
    snprintf(detail, sizeof detail, "%s and not in sync (state %s)",
             connected ? "connected" : "offline", text(g, "state", "?"));
    const char *error = text(cJSON_GetObjectItemCaseSensitive(g, "last_push"), "error", NULL);
    doctor_say(d, DOCTOR_WARN, what, detail,
               error       ? error
               : connected ? "gpupv push --guest NAME --wait"
                           : "start its VM");
    said = 1;
  }
  if (connected && flag(g, "report_stale")) {
    snprintf(detail, sizeof detail, "its last report is %.0f s old", number(g, "report_age_s"));
    doctor_say(d, DOCTOR_WARN, what, detail, "check gpupv-guestd in the guest");
    said = 1;
  }
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gpu, "checks")) {
    const char *level = text(c, "level", "");
    if (strcmp(level, "ok") == 0)
      continue;
    snprintf(detail, sizeof detail, "%s: %.700s", text(c, "id", "?"), text(c, "detail", ""));
    doctor_say(d, strcmp(level, "fail") == 0 ? DOCTOR_FAIL : DOCTOR_WARN, what, detail,
               text(c, "fix", NULL));
    said = 1;
  }
  if (!said)
    doctor_say(d, DOCTOR_OK, what,
               cJSON_IsObject(gpu) ? "in sync, every check ok" : "in sync (no checks reported)",
               NULL);
}

void doctor_status(struct doctor *d, const cJSON *status) {
  doctor_host(d, cJSON_GetObjectItemCaseSensitive(status, "host"));
  const cJSON *guests = cJSON_GetObjectItemCaseSensitive(status, "guests"), *g;
  if (!cJSON_GetArraySize(guests))
    doctor_say(d, DOCTOR_WARN, "guests", "none has connected",
               "install gpupv-guestd in each VM; check that it reaches this host");
  cJSON_ArrayForEach(g, guests) doctor_guest(d, g);
}

/* ---- one GET, for the dashboard ---- */

struct get {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  char request[256];
  char reply[64];
  size_t got;
  int code;
};

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  struct get *g = h->data;
  (void)size;
  *buf = uv_buf_init(g->reply + g->got, (unsigned)(sizeof g->reply - 1 - g->got));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct get *g = s->data;
  (void)buf;
  if (n > 0)
    g->got += (size_t)n;
  g->reply[g->got] = 0;
  int code;
  if (n < 0 || g->got >= sizeof g->reply - 1 || sscanf(g->reply, "HTTP/1.%*d %d", &code) == 1) {
    if (sscanf(g->reply, "HTTP/1.%*d %d", &code) == 1)
      g->code = code;
    uv_close((uv_handle_t *)&g->tcp, NULL);
  }
}

static void on_written(uv_write_t *w, int status) {
  struct get *g = w->data;
  if (status || uv_read_start((uv_stream_t *)&g->tcp, on_alloc, on_read))
    uv_close((uv_handle_t *)&g->tcp, NULL);
}

static void on_connected(uv_connect_t *c, int status) {
  struct get *g = c->data;
  uv_buf_t b = uv_buf_init(g->request, (unsigned)strlen(g->request));
  g->write.data = g;
  if (status || uv_write(&g->write, (uv_stream_t *)&g->tcp, &b, 1, on_written))
    uv_close((uv_handle_t *)&g->tcp, NULL);
}

static void on_timeout(uv_timer_t *t) {
  struct get *g = t->data;
  if (!uv_is_closing((uv_handle_t *)&g->tcp))
    uv_close((uv_handle_t *)&g->tcp, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

int doctor_http_get(const char *url, const char *path) {
  char host[64];
  int port;
  if (sscanf(url, "http://%63[^:/]:%d/", host, &port) != 2)
    return -1;
  struct sockaddr_in addr;
  if (uv_ip4_addr(host, port, &addr))
    return -1;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct get g;
  memset(&g, 0, sizeof g);
  g.code = -1;
  snprintf(g.request, sizeof g.request, "GET %s HTTP/1.0\r\nHost: %s:%d\r\n\r\n", path, host, port);
  uv_tcp_init(&loop, &g.tcp);
  g.tcp.data = g.connect.data = &g;
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  timer.data = &g;
  uv_timer_start(&timer, on_timeout, 5000, 0);
  if (uv_tcp_connect(&g.connect, &g.tcp, (const struct sockaddr *)&addr, on_connected))
    uv_close((uv_handle_t *)&g.tcp, NULL);
  while (uv_run(&loop, UV_RUN_ONCE) && !uv_is_closing((uv_handle_t *)&g.tcp))
    ;
  if (!uv_is_closing((uv_handle_t *)&timer))
    uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return g.code;
}

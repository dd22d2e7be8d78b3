#include "cli/cli-render.h"

#include "proto/status-doc.h"

#include <string.h>

const char *render_bytes(double bytes, char *out, size_t size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4)
    bytes /= 1024, u++;
  snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return out;
}

static const char *str(const cJSON *o, const char *key, const char *fallback) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : fallback;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int flag(const cJSON *o, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The checks of a report that are at level, and the first of them. */
static int checks_at(const cJSON *gpu, const char *level, const cJSON **ret_first) {
  int n = 0;
  const cJSON *c;
  *ret_first = NULL;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gpu, "checks")) {
    if (strcmp(str(c, "level", ""), level) != 0)
      continue;
    if (!n++)
      *ret_first = c;
  }
  return n;
}

/* A few words on the GPU, in the guest's own terms: its first failing check. */
static const char *gpu_words(const cJSON *gpu, char *out, size_t size) {
  if (!cJSON_IsObject(gpu))
    return "unknown";
  const char *smi = str(gpu, "nvidia_smi", NULL);
  const cJSON *first;
  int failing = checks_at(gpu, "fail", &first);
  int windows = strcmp(str(gpu, "os", ""), "windows") == 0;
  if (flag(gpu, "healthy"))
    snprintf(out, size, "ok%s%s", smi ? ", nvidia-smi " : "", smi ? smi : "");
  else if (failing)
    snprintf(out, size, "failing: %s%s", str(first, "id", "?"), failing > 1 ? " and more" : "");
  else if (windows)
    snprintf(out, size, "no GPU adapter");
  else /* a guest of the previous release: its four facts */
    snprintf(out, size, "no GPU-PV%s", flag(gpu, "dxg") ? "" : " (no /dev/dxg)");
  return out;
}

/* The state as the table shows it: connected guests by their state, others offline. */
static const char *state_word(const struct status_guest_view *g) {
  if (!g->connected) /* one out of date needs a push when it comes back */
    return g->in_sync ? "offline" : "offline, stale";
  const char *s = g->state ? g->state : "?";
  return strcmp(s, "in_sync") == 0 ? "in sync" : s;
}

static const char *state_colour(const struct status_guest_view *g) {
  const char *s = g->state ? g->state : "";
  if (!g->connected)
    return g->in_sync ? "\033[2m" : "\033[33m"; /* dim, or stale's yellow */
  if (strcmp(s, "in_sync") == 0)
    return "\033[32m";
  if (strcmp(s, "installing") == 0)
    return "\033[34m";
  if (strcmp(s, "error") == 0)
    return "\033[31m";
  return "\033[33m"; /* stale */
}

/* Characters on screen: UTF-8 lead bytes (the host sends cleaned, printable text). */
static int text_width(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

/* s cut to width characters, ending in "…" when it was cut. */
static const char *fit(const char *s, int width, char *out, size_t size) {
  if (width <= 0 || text_width(s) <= width) {
    snprintf(out, size, "%s", s);
    return out;
  }
  size_t o = 0;
  int chars = 0;
  for (const char *p = s; *p && o + 4 < size; p++) {
    int lead = ((unsigned char)*p & 0xc0) != 0x80;
    if (lead && ++chars > width - 1)
      break;
    out[o++] = *p;
  }
  memcpy(out + o, "\xe2\x80\xa6", 4); /* U+2026 and the NUL */
  return out;
}

/* Prints text cut and padded to width characters (0: as it is), coloured when asked. */
static void cell(FILE *out, const char *text, int width, const char *colour, int use) {
  char cut[512];
  fit(text, width, cut, sizeof cut);
  int pad = width > text_width(cut) ? width - text_width(cut) : 0;
  if (use && colour)
    fprintf(out, "%s%s\033[0m%*s ", colour, cut, pad, "");
  else
    fprintf(out, "%s%*s ", cut, pad, "");
}

static void last_push_words(const struct status_guest_view *g, char *out, size_t size) {
  const struct status_push_view *p = &g->last_push;
  char b[32];
  snprintf(out, size, "-");
  if (!g->has_last_push)
    return;
  if (p->ok)
    snprintf(out, size, "%s in %.1f s", render_bytes(p->bytes, b, sizeof b),
             p->duration_ms / 1000.0);
  else
    snprintf(out, size, "failed: %.250s", p->error ? p->error : "?");
}

/* Widths of the table's columns: the fixed ones, then those that shrink to fit. */
struct columns {
  int name, gpu, last;
};

#define COL_CONNECTED 9
#define COL_GENERATION 12
#define COL_STATE 14

static int max_int(int a, int b) {
  return a > b ? a : b;
}

/* Natural widths, then shrunk (last push first, then GPU, then names) to fit width. */
static struct columns plan_columns(const cJSON *guests, int width) {
  struct columns c = {5, 3, 9}; /* the headers */
  const cJSON *item;
  cJSON_ArrayForEach(item, guests) {
    struct status_guest_view g;
    char gpu[96], last[300];
    status_doc_read_guest(item, &g);
    last_push_words(&g, last, sizeof last);
    c.name = max_int(c.name, text_width(g.name ? g.name : "?"));
    c.gpu = max_int(c.gpu, text_width(gpu_words(g.gpu, gpu, sizeof gpu)));
    c.last = max_int(c.last, text_width(last));
  }
  if (width <= 0)
    return c;
  int fixed = COL_CONNECTED + COL_GENERATION + COL_STATE + 5; /* and a space after each */
  int *shrink[] = {&c.last, &c.gpu, &c.name};
  const int least[] = {12, 10, 8};
  for (int i = 0; i < 3; i++) {
    int over = fixed + c.name + c.gpu + c.last - width;
    if (over <= 0)
      break;
    *shrink[i] = max_int(least[i], *shrink[i] - over);
  }
  return c;
}

void render_status(FILE *out, const cJSON *status, int colour, int width) {
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(status, "host");
  const cJSON *guests = cJSON_GetObjectItemCaseSensitive(status, "guests");
  char b1[32];
  struct status_host_view h;
  status_doc_read_host(host, &h);
  fprintf(out, "host %s  generation %.12s  %.0f packages, %.0f libraries, %s\n",
          h.name ? h.name : "?", h.generation ? h.generation : "(none)", h.packages, h.libs,
          render_bytes(h.bytes, b1, sizeof b1));
  if (h.scan_error)
    fprintf(out, "scan error: %s\n", h.scan_error);
  if (!cJSON_GetArraySize(guests)) {
    fprintf(out, "no guests have connected yet\n");
    return;
  }
  struct columns c = plan_columns(guests, width);
  fputc('\n', out);
  cell(out, "GUEST", c.name, NULL, 0);
  cell(out, "CONNECTED", COL_CONNECTED, NULL, 0);
  cell(out, "GENERATION", COL_GENERATION, NULL, 0);
  cell(out, "STATE", COL_STATE, NULL, 0);
  cell(out, "GPU", c.gpu, NULL, 0);
  fprintf(out, "LAST PUSH\n");
  const cJSON *item;
  cJSON_ArrayForEach(item, guests) {
    struct status_guest_view g;
    char gpu[96], last[300], cut[320], gen[16];
    status_doc_read_guest(item, &g);
    cell(out, g.name ? g.name : "?", c.name, NULL, 0);
    cell(out, g.connected ? "yes" : "no", COL_CONNECTED, NULL, 0);
    snprintf(gen, sizeof gen, "%.12s", g.generation ? g.generation : "(none)");
    cell(out, gen, COL_GENERATION, NULL, 0);
    cell(out, state_word(&g), COL_STATE, state_colour(&g), colour);
    cell(out, gpu_words(g.gpu, gpu, sizeof gpu), c.gpu,
         flag(g.gpu, "healthy") ? "\033[32m" : "\033[31m", colour && g.gpu);
    last_push_words(&g, last, sizeof last);
    fprintf(out, "%s\n", fit(last, width > 0 ? c.last : 0, cut, sizeof cut));
  }
}

void render_guest(FILE *out, const cJSON *entry, const cJSON *host, int colour) {
  struct status_guest_view g;
  struct status_host_view h;
  status_doc_read_guest(entry, &g);
  status_doc_read_host(host, &h);
  const cJSON *gpu = g.gpu;
  char last[300], b1[32], b2[32];
  fprintf(out, "guest        %s\n", g.name ? g.name : "?");
  fprintf(out, "identity     %s via %s\n", g.id ? g.id : "?", g.transport ? g.transport : "?");
  if (g.key)
    fprintf(out, "guest key    %s\n", g.key);
  fprintf(out, "connected    %s (last seen %s)\n", g.connected ? "yes" : "no",
          g.last_seen ? g.last_seen : "never");
  fprintf(out, "state        ");
  cell(out, state_word(&g), 0, state_colour(&g), colour);
  fprintf(out, "\ngeneration   %s\nhost has     %s\n", g.generation ? g.generation : "(none)",
          h.generation ? h.generation : "(none)");
  if (g.pushing)
    fprintf(out, "pushing      %s of %s\n", render_bytes(g.push_done, b1, sizeof b1),
            render_bytes(g.push_total, b2, sizeof b2));
  last_push_words(&g, last, sizeof last);
  fprintf(out, "last push    %s\n", last);
  if (g.has_last_push && g.last_push.warning)
    fprintf(out, "warning      %s\n", g.last_push.warning);
  if (g.next_retry)
    fprintf(out, "next retry   %s\n", g.next_retry);
  if (g.in_conflict)
    fprintf(out, "conflict     name in use by another guest at %s (refused %.0f times, last %s)\n",
            g.conflict_transport ? g.conflict_transport : "?", g.conflict_refused,
            g.conflict_last ? g.conflict_last : "?");
  if (!gpu) {
    fprintf(out, "gpu          not reported\n");
    return;
  }
  const cJSON *legacy;
  cJSON_ArrayForEach(legacy, cJSON_GetObjectItemCaseSensitive(gpu, "legacy")) {
    fprintf(out, "legacy       %s, %s (gpupv-guestd --prune-legacy removes it)\n",
            str(legacy, "name", "?"), render_bytes(num(legacy, "bytes"), b1, sizeof b1));
  }
  if (flag(gpu, "reboot_required")) {
    fprintf(out, "restart      required: the new driver is complete only after it");
    const cJSON *f;
    int first = 1;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(gpu, "reboot_files")) {
      if (cJSON_IsString(f))
        fprintf(out, "%s%s", first ? " (waiting: " : ", ", f->valuestring);
      first = first && !cJSON_IsString(f);
    }
    fprintf(out, "%s\n", first ? "" : ")");
  }
  fprintf(out, "gpu          ");
  cell(out, flag(gpu, "healthy") ? "working" : "not working", 0,
       flag(gpu, "healthy") ? "\033[32m" : "\033[31m", colour);
  fprintf(out, "(%s %s", str(gpu, "os", "?"), str(gpu, "kernel", "?"));
  if (g.has_report)
    fprintf(out, ", reported %.0f s ago%s", g.report_age_s,
            g.report_stale ? ", stale: the guest stopped reporting" : "");
  fprintf(out, ")\n");
  const cJSON *checks = cJSON_GetObjectItemCaseSensitive(gpu, "checks"), *c;
  if (!cJSON_IsArray(checks)) { /* a guest of the previous release: its facts */
    if (strcmp(str(gpu, "os", ""), "windows") != 0)
      fprintf(out, "  /dev/dxg   %s\n  dxgkrnl    %s\n  nvidia-smi %s\n",
              flag(gpu, "dxg") ? "present" : "missing",
              flag(gpu, "dxgkrnl") ? "loaded" : "not loaded", str(gpu, "nvidia_smi", "not found"));
    return;
  }
  cJSON_ArrayForEach(c, checks) {
    const char *level = str(c, "level", "?");
    const char *tint = strcmp(level, "ok") == 0     ? "\033[32m"
                       : strcmp(level, "warn") == 0 ? "\033[33m"
                                                    : "\033[31m";
    fprintf(out, "  ");
    cell(out, level, 4, tint, colour);
    cell(out, str(c, "id", "?"), 20, NULL, 0);
    fprintf(out, "%s\n", str(c, "detail", ""));
    const char *fix = str(c, "fix", NULL);
    if (fix)
      fprintf(out, "  %*s fix: %s\n", 25, "", fix);
  }
}

void render_manifest(FILE *out, const cJSON *manifest) {
  const cJSON *pkgs = cJSON_GetObjectItemCaseSensitive(manifest, "packages");
  const cJSON *libs = cJSON_GetObjectItemCaseSensitive(manifest, "libs");
  const cJSON *p, *f;
  char b[32];
  cJSON_ArrayForEach(p, pkgs) {
    double bytes = 0;
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(p, "files");
    cJSON_ArrayForEach(f, files) bytes += num(f, "size");
    fprintf(out, "package %s  version %s  vendor %s  %d files, %s\n", str(p, "name", "?"),
            str(p, "version", "-"), str(p, "vendor", "-"), cJSON_GetArraySize(files),
            render_bytes(bytes, b, sizeof b));
  }
  cJSON_ArrayForEach(f, libs) {
    fprintf(out, "lib     %-32s %10s  %s  %.12s\n", str(f, "path", "?"),
            render_bytes(num(f, "size"), b, sizeof b), str(f, "origin", "?"),
            str(f, "sha256", "?"));
  }
}

#define BAR_WIDTH 20
#define BARS_SHOWN 12

/* One guest's line, cut to the terminal's width so that a redraw lands where it should: name,
 * bar, percentage, rate, ETA and phase. */
static void progress_line(FILE *out, const cJSON *item, double secs, int name_width, int width) {
  struct status_target_view g;
  status_doc_read_target(item, &g);
  double done = g.bytes_done, total = g.bytes_total;
  const char *phase = g.phase ? g.phase : "?";
  int finished = strcmp(phase, "done") == 0;
  double share = total > 0 ? done / total : finished ? 1 : 0;
  char bar[BAR_WIDTH * 3 + 1], b1[32], eta[32] = "", name[160];
  size_t o = 0;
  for (int i = 0; i < BAR_WIDTH; i++) {
    const char *piece = i < (int)(share * BAR_WIDTH + 0.5) ? "\xe2\x96\x88" : "\xc2\xb7";
    size_t n = strlen(piece);
    memcpy(bar + o, piece, n);
    o += n;
  }
  bar[o] = 0;
  double rate = secs > 0 ? done / secs : 0;
  if (rate > 0 && total > done && strcmp(phase, "sending") == 0)
    snprintf(eta, sizeof eta, "  ETA %.0f s", (total - done) / rate);
  char line[600], cut[620];
  fit(g.name ? g.name : "?", name_width, name, sizeof name);
  snprintf(line, sizeof line, "%s%*s %s %3.0f%%  %9s/s%s  %s", name, name_width - text_width(name),
           "", bar, share * 100, render_bytes(rate, b1, sizeof b1), eta, phase);
  fprintf(out, "\033[K%s\n", fit(line, width - 1, cut, sizeof cut));
}

void render_progress(FILE *out, const cJSON *progress, int width) {
  static int lines_drawn;
  const cJSON *guests = cJSON_GetObjectItemCaseSensitive(progress, "guests");
  double secs = num(progress, "elapsed_ms") / 1000.0;
  int n = cJSON_GetArraySize(guests), shown = n < BARS_SHOWN ? n : BARS_SHOWN, name_width = 4;
  const cJSON *g;
  cJSON_ArrayForEach(g, guests) {
    struct status_target_view t;
    status_doc_read_target(g, &t);
    name_width = max_int(name_width, text_width(t.name ? t.name : "?"));
  }
  if (width <= 0)
    width = 80;
  /* the bar and the figures take about 60 columns; names get the rest, 8 at the least */
  if (name_width > width - 60)
    name_width = max_int(8, width - 60);
  if (lines_drawn)
    fprintf(out, "\033[%dA", lines_drawn); /* back over the last drawing */
  int i = 0;
  cJSON_ArrayForEach(g, guests) {
    if (i++ == shown)
      break;
    progress_line(out, g, secs, name_width, width);
  }
  char b1[32], b2[32], total[200], cut[220];
  int len = snprintf(total, sizeof total, "%s of %s in %.0f s",
                     render_bytes(num(progress, "bytes_done"), b1, sizeof b1),
                     render_bytes(num(progress, "bytes_total"), b2, sizeof b2), secs);
  if (n > shown)
    snprintf(total + len, sizeof total - (size_t)len, " (%d more guests not shown)", n - shown);
  fprintf(out, "\033[K%s\n", fit(total, width - 1, cut, sizeof cut));
  lines_drawn = shown + 1;
  fflush(out);
}

void render_push_result(FILE *out, const cJSON *result) {
  struct status_result_view r;
  status_doc_read_result(result, &r);
  const char *gen = r.generation ? r.generation : "(none)";
  const cJSON *item;
  char b[32];
  if (!cJSON_GetArraySize(r.guests) && r.ok)
    fprintf(out, "no guests connected; generation %.12s published\n", gen);
  cJSON_ArrayForEach(item, r.guests) {
    struct status_target_view g;
    status_doc_read_target(item, &g);
    const char *name = g.name ? g.name : "?";
    if (g.error)
      fprintf(out, "%s: failed: %s\n", name, g.error);
    else if (g.in_sync)
      fprintf(out, "%s: in sync at generation %.12s (last push %s in %.1f s)\n", name, gen,
              render_bytes(g.last_push_bytes, b, sizeof b), g.last_push_ms / 1000);
    else
      fprintf(out, "%s: push started\n", name);
  }
  if (r.error)
    fprintf(out, "push failed: %s\n", r.error);
}

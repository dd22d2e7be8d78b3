#include "cli/cli-render.h"

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

static const char *gpu_words(const cJSON *gpu, char *out, size_t size) {
  if (!cJSON_IsObject(gpu))
    return "unknown";
  const char *smi = str(gpu, "nvidia_smi", NULL);
  snprintf(out, size, "%s%s%s%s", flag(gpu, "healthy") ? "ok" : "no GPU-PV",
           flag(gpu, "dxg") ? "" : " (no /dev/dxg)", smi ? ", nvidia-smi " : "", smi ? smi : "");
  return out;
}

/* The state as the table shows it: connected guests by their state, others offline. */
static const char *state_word(const cJSON *g) {
  if (!flag(g, "connected"))
    return "offline";
  const char *s = str(g, "state", "?");
  return strcmp(s, "in_sync") == 0 ? "in sync" : s;
}

static const char *state_colour(const cJSON *g) {
  const char *s = str(g, "state", "");
  if (!flag(g, "connected"))
    return "\033[2m"; /* dim */
  if (strcmp(s, "in_sync") == 0)
    return "\033[32m";
  if (strcmp(s, "installing") == 0)
    return "\033[34m";
  if (strcmp(s, "error") == 0)
    return "\033[31m";
  return "\033[33m"; /* stale */
}

/* Prints text padded to width, coloured when asked (escape codes do not count as width). */
static void cell(FILE *out, const char *text, int width, const char *colour, int use) {
  if (use && colour)
    fprintf(out, "%s%-*s\033[0m ", colour, width, text);
  else
    fprintf(out, "%-*s ", width, text);
}

static void last_push_words(const cJSON *g, char *out, size_t size) {
  const cJSON *push = cJSON_GetObjectItemCaseSensitive(g, "last_push");
  char b[32];
  snprintf(out, size, "-");
  if (!cJSON_IsObject(push))
    return;
  if (flag(push, "ok"))
    snprintf(out, size, "%s in %.1f s", render_bytes(num(push, "bytes"), b, sizeof b),
             num(push, "duration_ms") / 1000.0);
  else
    snprintf(out, size, "failed: %.70s", str(push, "error", "?"));
}

void render_status(FILE *out, const cJSON *status, int colour) {
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(status, "host");
  const cJSON *guests = cJSON_GetObjectItemCaseSensitive(status, "guests");
  char b1[32];
  fprintf(out, "host %s  generation %.12s  %d packages, %d libraries, %s\n", str(host, "name", "?"),
          str(host, "generation", "(none)"),
          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(host, "packages")),
          (int)num(host, "libs"), render_bytes(num(host, "bytes"), b1, sizeof b1));
  const char *scan_error = str(host, "scan_error", NULL);
  if (scan_error)
    fprintf(out, "scan error: %s\n", scan_error);
  if (!cJSON_GetArraySize(guests)) {
    fprintf(out, "no guests have connected yet\n");
    return;
  }
  fprintf(out, "\n%-20s %-10s %-12s %-11s %-36s %s\n", "GUEST", "CONNECTED", "GENERATION", "STATE",
          "GPU", "LAST PUSH");
  const cJSON *g;
  cJSON_ArrayForEach(g, guests) {
    char gpu[96], last[128], gen[13];
    const cJSON *probe = cJSON_GetObjectItemCaseSensitive(g, "gpu");
    snprintf(gen, sizeof gen, "%.12s", str(g, "generation", "(none)"));
    cell(out, str(g, "name", "?"), 20, NULL, 0);
    cell(out, flag(g, "connected") ? "yes" : "no", 10, NULL, 0);
    cell(out, gen, 12, NULL, 0);
    cell(out, state_word(g), 11, state_colour(g), colour);
    cell(out, gpu_words(probe, gpu, sizeof gpu), 36,
         flag(probe, "healthy") ? "\033[32m" : "\033[31m", colour && cJSON_IsObject(probe));
    last_push_words(g, last, sizeof last);
    fprintf(out, "%s\n", last);
  }
}

void render_guest(FILE *out, const cJSON *g, const cJSON *host, int colour) {
  const cJSON *gpu = cJSON_GetObjectItemCaseSensitive(g, "gpu");
  const cJSON *push = cJSON_GetObjectItemCaseSensitive(g, "push");
  char last[128], b1[32], b2[32];
  fprintf(out, "guest        %s\n", str(g, "name", "?"));
  fprintf(out, "identity     %s via %s\n", str(g, "id", "?"), str(g, "transport", "?"));
  fprintf(out, "connected    %s (last seen %s)\n", flag(g, "connected") ? "yes" : "no",
          str(g, "last_seen", "never"));
  fprintf(out, "state        ");
  cell(out, state_word(g), 0, state_colour(g), colour);
  fprintf(out, "\ngeneration   %s\nhost has     %s\n", str(g, "generation", "(none)"),
          str(host, "generation", "(none)"));
  if (cJSON_IsObject(push))
    fprintf(out, "pushing      %s of %s\n", render_bytes(num(push, "bytes_done"), b1, sizeof b1),
            render_bytes(num(push, "bytes_total"), b2, sizeof b2));
  last_push_words(g, last, sizeof last);
  fprintf(out, "last push    %s\n", last);
  if (!cJSON_IsObject(gpu)) {
    fprintf(out, "gpu          not reported\n");
    return;
  }
  fprintf(out, "gpu          ");
  cell(out, flag(gpu, "healthy") ? "working" : "not working", 0,
       flag(gpu, "healthy") ? "\033[32m" : "\033[31m", colour);
  fprintf(out, "\n  /dev/dxg   %s\n  dxgkrnl    %s\n  nvidia-smi %s\n  kernel     %s (%s)\n",
          flag(gpu, "dxg") ? "present" : "missing", flag(gpu, "dxgkrnl") ? "loaded" : "not loaded",
          str(gpu, "nvidia_smi", "not found"), str(gpu, "kernel", "?"), str(gpu, "os", "?"));
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

void render_progress(FILE *out, const cJSON *progress) {
  double done = num(progress, "bytes_done"), total = num(progress, "bytes_total");
  double secs = num(progress, "elapsed_ms") / 1000.0;
  double rate = secs > 0 ? done / secs : 0;
  char b1[32], b2[32], b3[32], eta[32] = "-";
  if (rate > 0 && total > done)
    snprintf(eta, sizeof eta, "%.0f s", (total - done) / rate);
  fprintf(out, "\rpushing %s / %s  %s/s  ETA %s   ", render_bytes(done, b1, sizeof b1),
          render_bytes(total, b2, sizeof b2), render_bytes(rate, b3, sizeof b3), eta);
  fflush(out);
}

void render_push_result(FILE *out, const cJSON *result) {
  const cJSON *guests = cJSON_GetObjectItemCaseSensitive(result, "guests");
  const cJSON *g;
  char b[32];
  if (!cJSON_GetArraySize(guests) && flag(result, "ok"))
    fprintf(out, "no guests connected; generation %.12s published\n",
            str(result, "generation", "(none)"));
  cJSON_ArrayForEach(g, guests) {
    const char *error = str(g, "error", NULL);
    if (error)
      fprintf(out, "%s: failed: %s\n", str(g, "name", "?"), error);
    else if (flag(g, "in_sync"))
      fprintf(out, "%s: in sync at generation %.12s (last push %s in %.1f s)\n",
              str(g, "name", "?"), str(result, "generation", "?"),
              render_bytes(num(g, "last_push_bytes"), b, sizeof b), num(g, "last_push_ms") / 1000);
    else
      fprintf(out, "%s: push started\n", str(g, "name", "?"));
  }
  const char *error = str(result, "error", NULL);
  if (error)
    fprintf(out, "push failed: %s\n", error);
}

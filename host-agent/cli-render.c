#include "host-agent/cli-render.h"

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

void render_status(FILE *out, const cJSON *status) {
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
    char gpu[96], last[96] = "-", b2[32];
    const cJSON *push = cJSON_GetObjectItemCaseSensitive(g, "last_push");
    if (cJSON_IsObject(push)) {
      if (flag(push, "ok"))
        snprintf(last, sizeof last, "%s in %.1f s", render_bytes(num(push, "bytes"), b2, sizeof b2),
                 num(push, "duration_ms") / 1000.0);
      else
        snprintf(last, sizeof last, "failed: %.70s", str(push, "error", "?"));
    }
    fprintf(out, "%-20s %-10s %-12.12s %-11s %-36s %s\n", str(g, "name", "?"),
            flag(g, "connected") ? "yes" : "no", str(g, "generation", "(none)"),
            str(g, "state", "?"),
            gpu_words(cJSON_GetObjectItemCaseSensitive(g, "gpu"), gpu, sizeof gpu), last);
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

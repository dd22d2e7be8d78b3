#include "host-agent/inf.h"

#include "common/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

/* Converts UTF-16LE with BOM to 8-bit text by dropping what is not ASCII; INF keys are ASCII. */
static char *inf_text(const uint8_t *data, size_t len) {
  char *out = malloc(len + 1);
  if (!out)
    return NULL;
  size_t n = 0;
  if (len >= 2 && data[0] == 0xff && data[1] == 0xfe) {
    for (size_t i = 2; i + 1 < len; i += 2)
      out[n++] = data[i + 1] == 0 && data[i] ? (char)data[i] : '?';
  } else {
    size_t start = len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf ? 3 : 0;
    for (size_t i = start; i < len; i++)
      out[n++] = data[i] ? (char)data[i] : ' ';
  }
  out[n] = 0;
  return out;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = 0;
  return s;
}

static char *unquote(char *s) {
  size_t n = strlen(s);
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
    s[n - 1] = 0;
    s++;
  }
  return s;
}

/* Finds "key = value" in [section]; returns a pointer into text (modified) or NULL. */
static const char *inf_lookup(char *text, const char *section, const char *key) {
  size_t len = strlen(text);
  char *copy = malloc(len + 1);
  if (!copy)
    return NULL;
  memcpy(copy, text, len + 1);
  const char *found = NULL;
  int in_section = 0;
  char *save = NULL;
  for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *semi = strchr(line, ';');
    if (semi && !strchr(line, '"'))
      *semi = 0;
    char *t = trim(line);
    if (*t == '[') {
      char *close = strchr(t, ']');
      if (close)
        *close = 0;
      in_section = strcasecmp(t + 1, section) == 0;
      continue;
    }
    char *eq = strchr(t, '=');
    if (!in_section || !eq)
      continue;
    *eq = 0;
    if (strcasecmp(trim(t), key) == 0) {
      found = text + (trim(eq + 1) - copy);
      break;
    }
  }
  free(copy);
  return found;
}

/* Copies an INF value up to the end of its line. */
static void value_out(const char *v, char *dst, size_t size) {
  size_t n = strcspn(v, "\r\n;");
  char tmp[512];
  if (n >= sizeof tmp)
    n = sizeof tmp - 1;
  memcpy(tmp, v, n);
  tmp[n] = 0;
  text_copy(dst, size, unquote(trim(tmp)));
}

void inf_read_version(const uint8_t *data, size_t len, char *version, size_t version_size,
                      char *vendor, size_t vendor_size) {
  version[0] = vendor[0] = 0;
  char *text = inf_text(data, len);
  if (!text)
    return;
  const char *v = inf_lookup(text, "Version", "DriverVer");
  if (v) {
    char buf[256];
    value_out(v, buf, sizeof buf);
    const char *comma = strchr(buf, ',');
    char tmp[256];
    text_copy(tmp, sizeof tmp, comma ? comma + 1 : buf);
    text_copy(version, version_size, trim(tmp));
  }
  const char *p = inf_lookup(text, "Version", "Provider");
  if (p) {
    char buf[256];
    value_out(p, buf, sizeof buf);
    size_t n = strlen(buf);
    if (n > 2 && buf[0] == '%' && buf[n - 1] == '%') {
      buf[n - 1] = 0;
      const char *s = inf_lookup(text, "Strings", buf + 1);
      if (s)
        value_out(s, buf, sizeof buf);
      else
        buf[0] = 0;
    }
    text_copy(vendor, vendor_size, buf);
  }
  free(text);
}

void inf_read_class(const uint8_t *data, size_t len, char *cls, size_t cls_size, char *guid,
                    size_t guid_size) {
  cls[0] = guid[0] = 0;
  char *text = inf_text(data, len);
  if (!text)
    return;
  const char *c = inf_lookup(text, "Version", "Class");
  if (c)
    value_out(c, cls, cls_size);
  const char *g = inf_lookup(text, "Version", "ClassGuid");
  if (g)
    value_out(g, guid, guid_size);
  free(text);
}

/* ---- CopyToVm AddReg lines ---- */

#define FLG_ADDREG_APPEND 0x00000008u
#define FLG_ADDREG_TYPE_MULTI_SZ 0x00010000u

/* Splits an INF line into comma-separated fields up to a comment, quotes respected and removed
 * ("" is a quote inside a quoted field). Returns the count; fields point into line, which is
 * modified. */
static size_t split_fields(char *line, char **fields, size_t max) {
  size_t n = 0;
  char *p = line;
  while (n < max) {
    while (*p == ' ' || *p == '\t')
      p++;
    char *out = p, *start = p;
    int quoted = 0;
    for (; *p && (quoted || (*p != ',' && *p != ';')); p++) {
      if (*p == '"') {
        if (quoted && p[1] == '"') {
          *out++ = '"';
          p++;
        } else {
          quoted = !quoted;
        }
      } else {
        *out++ = *p;
      }
    }
    int last = *p == 0 || *p == ';'; /* a ';' outside quotes starts a comment */
    *out = 0;
    fields[n++] = trim(start);
    if (last)
      break;
    p++;
  }
  return n;
}

/* %TOKEN%s already looked up in [Strings]: an INF uses two or three for its flags. */
struct token_cache {
  char name[8][64];
  unsigned long value[8];
  int n;
};

/* The flags field as a number: digits (hex with 0x) or a %TOKEN% from [Strings]. */
static unsigned long addreg_flags(char *text, const char *field, struct token_cache *tc) {
  char buf[128];
  text_copy(buf, sizeof buf, field);
  size_t n = strlen(buf);
  if (n < 3 || buf[0] != '%' || buf[n - 1] != '%')
    return strtoul(buf, NULL, 0);
  buf[n - 1] = 0;
  for (int i = 0; i < tc->n; i++)
    if (strcasecmp(tc->name[i], buf + 1) == 0)
      return tc->value[i];
  const char *s = inf_lookup(text, "Strings", buf + 1);
  char value[128] = "";
  if (s)
    value_out(s, value, sizeof value);
  unsigned long flags = strtoul(value, NULL, 0);
  if (tc->n < 8) {
    text_copy(tc->name[tc->n], sizeof tc->name[0], buf + 1);
    tc->value[tc->n++] = flags;
  }
  return flags;
}

/* Which CopyToVm list a subkey names: 0 for none, else 1 + wow64 * 2 + when_newer. */
static int copy_list(const char *subkey) {
  static const char *const names[] = {"CopyToVmOverwrite", "CopyToVmWhenNewer",
                                      "CopyToVmOverwriteWow64", "CopyToVmWhenNewerWow64"};
  for (int i = 0; i < 4; i++)
    if (strcasecmp(subkey, names[i]) == 0)
      return 1 + i;
  return 0;
}

/* A source as a package-relative path with '/', or 0 when it is not one. */
static int package_path(const char *in, char *out, size_t size) {
  if (!*in || strchr(in, '%') || strchr(in, ':') || strlen(in) >= size)
    return 0;
  size_t n = 0;
  for (const char *p = in; *p; p++)
    out[n++] = *p == '\\' ? '/' : *p;
  out[n] = 0;
  if (out[0] == '/' || strstr(out, "..") || strstr(out, "//"))
    return 0;
  return 1;
}

/* The file name at the end of a destination or source. */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/'), *back = strrchr(path, '\\');
  const char *last = !slash || (back && back > slash) ? back : slash;
  return last ? last + 1 : path;
}

int inf_copy_make(const char *source, const char *dest, int wow64, int when_newer,
                  struct inf_copy *ret) {
  memset(ret, 0, sizeof *ret);
  if (!package_path(source, ret->source, sizeof ret->source))
    return UV_EINVAL;
  text_copy(ret->dest, sizeof ret->dest, base_name(dest && *dest ? dest : source));
  ret->wow64 = wow64;
  ret->when_newer = when_newer;
  return *ret->dest ? 0 : UV_EINVAL;
}

/* A value being gathered: its key and its strings so far. */
struct copy_value {
  int list;
  char name[128];
  char strings[2][260];
  int nstrings;
};

static struct copy_value *find_value(struct copy_value *v, size_t n, int list, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (v[i].list == list && strcasecmp(v[i].name, name) == 0)
      return &v[i];
  return NULL;
}

int inf_read_copy_to_vm(const uint8_t *data, size_t len, struct inf_copy **ret, size_t *ret_n) {
  *ret = NULL;
  *ret_n = 0;
  char *text = inf_text(data, len);
  char *copy = text ? strdup(text) : NULL;
  struct copy_value *values = NULL;
  size_t nvalues = 0;
  int err = UV_ENOMEM;
  struct token_cache tokens = {.n = 0};
  if (!copy)
    goto out;
  char *save = NULL;
  for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *fields[8];
    size_t n = split_fields(line, fields, 8);
    int list = n >= 3 && strcasecmp(fields[0], "HKR") == 0 ? copy_list(fields[1]) : 0;
    if (!list || !*fields[2])
      continue;
    unsigned long flags = n >= 4 ? addreg_flags(text, fields[3], &tokens) : 0;
    int multi = (flags & FLG_ADDREG_TYPE_MULTI_SZ) != 0;
    struct copy_value *v = find_value(values, nvalues, list, fields[2]);
    if (v && !(multi && (flags & FLG_ADDREG_APPEND)))
      v->nstrings = 0; /* a later line without the append flag replaces the value */
    if (!v) {
      if (nvalues == INF_COPY_MAX)
        continue;
      if (nvalues % 32 == 0) {
        struct copy_value *more = realloc(values, (nvalues + 32) * sizeof *more);
        if (!more)
          goto out;
        values = more;
      }
      v = &values[nvalues++];
      memset(v, 0, sizeof *v);
      v->list = list;
      text_copy(v->name, sizeof v->name, fields[2]);
    }
    /* REG_SZ holds one string, the source; REG_MULTI_SZ source then destination */
    for (size_t i = 4; i < n && i < (multi ? 6u : 5u) && v->nstrings < 2; i++)
      text_copy(v->strings[v->nstrings++], sizeof v->strings[0], fields[i]);
  }
  struct inf_copy *out = calloc(nvalues + 1, sizeof *out);
  if (!out)
    goto out;
  size_t count = 0;
  for (size_t i = 0; i < nvalues; i++) {
    struct copy_value *v = &values[i];
    if (v->nstrings && inf_copy_make(v->strings[0], v->nstrings > 1 ? v->strings[1] : NULL,
                                     (v->list - 1) >= 2, (v->list - 1) % 2, &out[count]) == 0)
      count++;
  }
  *ret = out;
  *ret_n = count;
  err = 0;
out:
  free(values);
  free(copy);
  free(text);
  return err;
}

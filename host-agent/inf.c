#include "host-agent/inf.h"

#include "common/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

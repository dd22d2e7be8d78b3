#include "common/options.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CONFIG_MAX_BYTES (1 << 20)

int strlist_add(struct strlist *l, const char *s) {
  char *copy = strdup(s);
  char **items = realloc(l->items, (l->n + 1) * sizeof *items);
  if (!copy || !items) {
    free(copy);
    if (items)
      l->items = items;
    return UV_ENOMEM;
  }
  items[l->n++] = copy;
  l->items = items;
  return 0;
}

void strlist_free(struct strlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

static const struct opt *find_long(const struct opt *opts, const char *name, size_t len) {
  for (const struct opt *o = opts; o->name; o++) {
    if (strlen(o->name) != len)
      continue;
    size_t i = 0;
    for (; i < len; i++) {
      char a = o->name[i], b = name[i];
      if (a != b && !(a == '-' && b == '_'))
        break;
    }
    if (i == len)
      return o;
  }
  return NULL;
}

static const struct opt *find_short(const struct opt *opts, char c) {
  for (const struct opt *o = opts; o->name; o++)
    if (o->short_name && o->short_name == c)
      return o;
  return NULL;
}

static int parse_int(const struct opt *o, const char *s, long *ret) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < o->min || v > o->max)
    return GPUPV_EUSAGE;
  *ret = v;
  return 0;
}

static int set_value(const struct opt *o, const char *value, unsigned char *seen, char *err,
                     size_t err_size) {
  switch (o->kind) {
  case OPT_STRING: {
    char *copy = strdup(value);
    if (!copy)
      return UV_ENOMEM;
    free(*(char **)o->target);
    *(char **)o->target = copy;
    return 0;
  }
  case OPT_LIST:
    if (!*seen) /* the command line replaces a list from the config file */
      strlist_free(o->target);
    *seen = 1;
    return strlist_add(o->target, value);
  case OPT_INT:
    if (parse_int(o, value, o->target)) {
      snprintf(err, err_size, "--%s: expected an integer from %ld to %ld, got '%s'", o->name,
               o->min, o->max, value);
      return GPUPV_EUSAGE;
    }
    return 0;
  case OPT_FLAG:
    *(int *)o->target = 1;
    return 0;
  }
  return GPUPV_EUSAGE;
}

int options_parse(const struct opt *opts, int argc, char **argv, int stop_at_positional,
                  int *ret_next, char *err, size_t err_size) {
  size_t nopts = 0;
  while (opts[nopts].name)
    nopts++;
  unsigned char *seen = calloc(nopts + 1, 1);
  if (!seen)
    return UV_ENOMEM;
  int rc = 0, i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] == 0) {
      if (stop_at_positional)
        break;
      snprintf(err, err_size, "unexpected argument '%s'", a);
      rc = GPUPV_EUSAGE;
      goto out;
    }
    const struct opt *o;
    const char *value = NULL;
    if (a[1] == '-') {
      const char *eq = strchr(a + 2, '=');
      size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
      o = find_long(opts, a + 2, len);
      if (eq)
        value = eq + 1;
    } else {
      o = a[2] == 0 ? find_short(opts, a[1]) : NULL;
    }
    if (!o) {
      snprintf(err, err_size, "unknown option '%s' (see --help)", a);
      rc = GPUPV_EUSAGE;
      goto out;
    }
    if (o->kind == OPT_FLAG && value) {
      snprintf(err, err_size, "option --%s takes no value", o->name);
      rc = GPUPV_EUSAGE;
      goto out;
    }
    if (o->kind != OPT_FLAG && !value) {
      if (i + 1 >= argc) {
        snprintf(err, err_size, "option --%s needs a value", o->name);
        rc = GPUPV_EUSAGE;
        goto out;
      }
      value = argv[++i];
    }
    if ((rc = set_value(o, value ? value : "", &seen[o - opts], err, err_size)))
      goto out;
  }
  *ret_next = i;
out:
  free(seen);
  return rc;
}

static int config_value(const struct opt *o, const cJSON *v, char *err, size_t err_size) {
  unsigned char seen = 1;
  switch (o->kind) {
  case OPT_STRING:
    if (cJSON_IsString(v))
      return set_value(o, v->valuestring, &seen, err, err_size);
    break;
  case OPT_LIST:
    if (cJSON_IsString(v))
      return strlist_add(o->target, v->valuestring);
    if (cJSON_IsArray(v)) {
      const cJSON *item;
      cJSON_ArrayForEach(item, v) {
        if (!cJSON_IsString(item))
          goto bad;
        int rc = strlist_add(o->target, item->valuestring);
        if (rc)
          return rc;
      }
      return 0;
    }
    break;
  case OPT_INT:
    if (cJSON_IsNumber(v) && v->valuedouble >= (double)o->min && v->valuedouble <= (double)o->max &&
        v->valuedouble == (double)(long)v->valuedouble) {
      *(long *)o->target = (long)v->valuedouble;
      return 0;
    }
    break;
  case OPT_FLAG:
    if (cJSON_IsBool(v)) {
      *(int *)o->target = cJSON_IsTrue(v);
      return 0;
    }
    break;
  }
bad:
  snprintf(err, err_size, "config key \"%s\" has the wrong type", o->name);
  return GPUPV_ECONFIG;
}

/* "FILE:LINE:COL" of the byte at offset in text (both counted from 1). */
static void config_where(const char *path, const char *text, size_t offset, char *out,
                         size_t size) {
  int line = 1, col = 1;
  for (size_t i = 0; i < offset && text[i]; i++) {
    if (text[i] == '\n')
      line++, col = 1;
    else if (((unsigned char)text[i] & 0xc0) != 0x80)
      col++; /* a character, not a UTF-8 continuation byte */
  }
  snprintf(out, size, "%s:%d:%d", path, line, col);
}

/* Where the member named key starts in the text; 0 when it cannot be found. */
static size_t config_key_offset(const char *text, const char *key) {
  char quoted[256];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  for (const char *p = text; (p = strstr(p, quoted)); p++) {
    const char *q = p + strlen(quoted);
    while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
      q++;
    if (*q == ':')
      return (size_t)(p - text);
  }
  return 0;
}

int options_load_config(const struct opt *opts, const char *path, char *err, size_t err_size) {
  struct buf text;
  buf_init(&text);
  cJSON *root = NULL;
  char where[1200];
  int rc = fs_read_file(path, CONFIG_MAX_BYTES, &text);
  if (rc) {
    snprintf(err, err_size, "config %s: %s", path, gpupv_strerror(rc));
    rc = GPUPV_ECONFIG;
    goto out;
  }
  if (buf_append(&text, "", 1)) { /* NUL-terminated for the position helpers */
    rc = GPUPV_ECONFIG;
    goto out;
  }
  text.len--;
  const char *end = NULL;
  root = cJSON_ParseWithOpts((const char *)text.data, &end, 0);
  if (!cJSON_IsObject(root)) {
    size_t at = root || !end ? 0 : (size_t)(end - (const char *)text.data);
    config_where(path, (const char *)text.data, at, where, sizeof where);
    snprintf(err, err_size, "config %s: %s", where,
             root ? "not a JSON object" : "not a JSON object (invalid JSON here)");
    rc = GPUPV_ECONFIG;
    goto out;
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, root) {
    const struct opt *o = find_long(opts, item->string, strlen(item->string));
    config_where(path, (const char *)text.data,
                 config_key_offset((const char *)text.data, item->string), where, sizeof where);
    if (!o || strcmp(o->name, "config") == 0) {
      snprintf(err, err_size, "config %s: unknown key \"%s\"", where, item->string);
      rc = GPUPV_ECONFIG;
      goto out;
    }
    char why[512];
    if ((rc = config_value(o, item, why, sizeof why))) {
      snprintf(err, err_size, "config %s: %s", where, why);
      rc = GPUPV_ECONFIG;
      goto out;
    }
  }
out:
  cJSON_Delete(root);
  buf_done(&text);
  return rc;
}

void options_free(const struct opt *opts) {
  for (const struct opt *o = opts; o->name; o++) {
    if (o->kind == OPT_STRING) {
      free(*(char **)o->target);
      *(char **)o->target = NULL;
    } else if (o->kind == OPT_LIST) {
      strlist_free(o->target);
    }
  }
}

#define HELP_WIDTH 80
#define HELP_INDENT 31 /* "  " + 28 + " " */

/* Prints text from column HELP_INDENT, wrapped at spaces to HELP_WIDTH columns. */
static void print_wrapped(FILE *out, const char *text) {
  int col = HELP_INDENT;
  while (*text) {
    const char *space = strchr(text, ' ');
    int word = space ? (int)(space - text) : (int)strlen(text);
    if (col > HELP_INDENT && col + 1 + word > HELP_WIDTH) {
      fprintf(out, "\n%*s", HELP_INDENT, "");
      col = HELP_INDENT;
    } else if (col > HELP_INDENT) {
      fputc(' ', out);
      col++;
    }
    fprintf(out, "%.*s", word, text);
    col += word;
    text += word;
    while (*text == ' ')
      text++;
  }
  fputc('\n', out);
}

void options_print_help(FILE *out, const struct opt *opts) {
  for (const struct opt *o = opts; o->name; o++) {
    char left[64];
    if (o->short_name)
      snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
               o->arg ? o->arg : "");
    else
      snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    if (strlen(left) > 28)
      fprintf(out, "  %s\n%*s", left, HELP_INDENT, ""); /* a long flag gets its own line */
    else
      fprintf(out, "  %-28s ", left);
    print_wrapped(out, o->help);
  }
}

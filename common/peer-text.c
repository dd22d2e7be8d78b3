#include "common/peer-text.h"

#include <stdint.h>
#include <string.h>

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
static const char ellipsis[] = "\xe2\x80\xa6";    /* U+2026 */

/* Decodes one UTF-8 sequence at p (n bytes left); returns its length, 0 when invalid. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *ret_cp) {
  uint32_t cp;
  size_t len;
  if (p[0] < 0x80)
    cp = p[0], len = 1;
  else if (p[0] >= 0xc2 && p[0] <= 0xdf)
    cp = p[0] & 0x1f, len = 2;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    cp = p[0] & 0x0f, len = 3;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    cp = p[0] & 0x07, len = 4;
  else
    return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  /* overlong forms, surrogates and values past U+10FFFF */
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  *ret_cp = cp;
  return len;
}

static int is_control(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

/* Writes the cleaned form of in to out while it fits in limit bytes; returns the bytes
 * written and sets *ret_done when all of in was written. */
static size_t clean_into(const unsigned char *in, size_t len, char *out, size_t limit,
                         int *ret_done) {
  size_t o = 0, i = 0;
  while (i < len) {
    uint32_t cp = 0;
    size_t n = utf8_decode(in + i, len - i, &cp);
    const char *piece = (const char *)in + i;
    size_t piece_len = n;
    if (n && (cp == '\t' || cp == '\n' || cp == '\r')) {
      piece = " ";
    } else if (!n || is_control(cp)) {
      piece = replacement;
      piece_len = 3;
      n = n ? n : 1;
    }
    if (o + piece_len > limit)
      break;
    if (out)
      memcpy(out + o, piece, piece_len);
    o += piece_len;
    i += n;
  }
  *ret_done = i >= len;
  return o;
}

char *peer_text_clean(const char *in, size_t len, char *out, size_t out_size) {
  if (!out_size)
    return out;
  const unsigned char *p = (const unsigned char *)in;
  size_t limit = out_size - 1;
  int done;
  size_t o = clean_into(p, len, NULL, limit, &done);
  if (done) {
    clean_into(p, len, out, limit, &done);
  } else {
    /* room for the ellipsis that says the text was cut */
    o = clean_into(p, len, out, limit >= 3 ? limit - 3 : 0, &done);
    if (limit >= 3) {
      memcpy(out + o, ellipsis, 3);
      o += 3;
    }
  }
  out[o] = 0;
  return out;
}

int peer_text_is_utf8(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_decode(p + i, len - i, &cp);
    if (!n)
      return 0;
    i += n;
  }
  return 1;
}

int peer_text_is_clean(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_decode(p + i, len - i, &cp);
    if (!n || is_control(cp))
      return 0;
    i += n;
  }
  return 1;
}

/* A cleaned copy of s, capped at max bytes; NULL when out of memory. */
static char *clean_dup(const char *s, size_t max) {
  size_t len = strlen(s);
  size_t size = (len * 3 < max ? len * 3 : max) + 4; /* U+FFFD may triple a byte */
  char *out = cJSON_malloc(size);
  return out ? peer_text_clean(s, len, out, size) : NULL;
}

struct clean_budget {
  size_t items;
};

static cJSON *clean_value(const cJSON *in, int depth, struct clean_budget *b);

/* Adds cleaned copies of in's children to out (an array or object) within the budget. */
static int clean_children(const cJSON *in, cJSON *out, int depth, struct clean_budget *b) {
  const cJSON *child;
  cJSON_ArrayForEach(child, in) {
    if (!b->items || depth >= PEER_JSON_MAX_DEPTH)
      break;
    cJSON *copy = clean_value(child, depth + 1, b);
    if (!copy)
      return -1;
    if (cJSON_IsObject(out)) {
      char *key = clean_dup(child->string ? child->string : "", 256);
      if (!key) {
        cJSON_Delete(copy);
        return -1;
      }
      /* a name that cleaning changed may now collide with another; the first one wins (only
       * those are looked up, so a large object costs no quadratic search) */
      if (strcmp(key, child->string ? child->string : "") != 0 &&
          cJSON_GetObjectItemCaseSensitive(out, key)) {
        cJSON_free(key);
        cJSON_Delete(copy);
        continue;
      }
      copy->string = key;
      cJSON_AddItemToArray(out, copy); /* keeps the name we set */
    } else {
      cJSON_AddItemToArray(out, copy);
    }
  }
  return 0;
}

static cJSON *clean_value(const cJSON *in, int depth, struct clean_budget *b) {
  b->items--;
  cJSON *out = NULL;
  if (cJSON_IsString(in)) {
    char *text = clean_dup(in->valuestring, PEER_JSON_MAX_STRING);
    out = text ? cJSON_CreateString(text) : NULL;
    cJSON_free(text);
  } else if (cJSON_IsNumber(in)) {
    out = cJSON_CreateNumber(in->valuedouble);
  } else if (cJSON_IsBool(in)) {
    out = cJSON_CreateBool(cJSON_IsTrue(in));
  } else if (cJSON_IsArray(in) || cJSON_IsObject(in)) {
    out = cJSON_IsArray(in) ? cJSON_CreateArray() : cJSON_CreateObject();
    if (out && clean_children(in, out, depth, b)) {
      cJSON_Delete(out);
      out = NULL;
    }
  } else {
    out = cJSON_CreateNull();
  }
  return out;
}

cJSON *peer_json_clean(const cJSON *in) {
  struct clean_budget b = {PEER_JSON_MAX_ITEMS};
  return clean_value(in, 0, &b);
}

/*
 * Text that came from a peer, made safe once where it enters: valid UTF-8 with no control
 * characters (so it cannot clear a terminal, forge a log line or break a JSON document), and
 * capped in length. Pure functions; no I/O.
 */
#ifndef GPUPV_COMMON_PEER_TEXT_H
#define GPUPV_COMMON_PEER_TEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* What a cleaned report may hold; beyond it, members are dropped or strings truncated. */
#define PEER_JSON_MAX_DEPTH 8
#define PEER_JSON_MAX_ITEMS 1024 /* every value counts, at any depth */
#define PEER_JSON_MAX_STRING 4096

/*
 * Copies in (len bytes, may hold anything) into out of out_size bytes as printable UTF-8:
 * tab, CR and LF become spaces; other C0 and C1 controls, DEL, bidirectional overrides and
 * invalid UTF-8 become U+FFFD. Text that does not fit ends in "…" at a character boundary.
 * Returns out (always NUL-terminated when out_size > 0).
 */
char *peer_text_clean(const char *in, size_t len, char *out, size_t out_size);
/* 1 when the len bytes at s are valid UTF-8 (no overlong forms, no surrogates), else 0. */
int peer_text_is_utf8(const char *s, size_t len);
/* 1 when s (NUL-terminated) is already what peer_text_clean would return, else 0. */
int peer_text_is_clean(const char *s);
/*
 * Returns a new copy of a peer's JSON value with every string and member name cleaned and
 * at most PEER_JSON_MAX_* of depth, items and string length; NULL when out of memory.
 */
cJSON *peer_json_clean(const cJSON *in);

#endif

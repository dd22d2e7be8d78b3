/*
 * Offline bundles: `gpupv bundle` against the real host agent, `gpupv-guestd --install-bundle`
 * into a test root. A bundle installs what a push would, a guest that already holds part of
 * the content takes only the rest, and a bundle changed in any part is refused with the
 * installed generation left as it was.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "common/sign.h"
#include "common/text.h"
#include "proto/bundle.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static const struct fixture_spec spec = {.seed = 11,
                                         .packages = 2,
                                         .files_per_package = 12,
                                         .small_max = 30000,
                                         .big_files = 1,
                                         .big_min = 200000,
                                         .big_max = 400000};

static void start_host(struct proc *host) {
  CHECK(fixture_make(test_path("src"), &spec) == 0);
  agents_start_host(host, test_path("src"), NULL, NULL);
}

/* `gpupv bundle --out path [extra...]`: its exit code; out and err are the caller's. */
static int bundle(const char *path, const char *extra, const char *extra_value, struct buf *out,
                  struct buf *err) {
  char *argv[] = {"gpupv",      "--control",   (char *)agents_control_uri(), "bundle", "--out",
                  (char *)path, (char *)extra, (char *)extra_value,          NULL};
  return agents_run(argv, out, err);
}

static void bundle_ok(const char *path, const char *extra, const char *extra_value) {
  struct buf out, err;
  int rc = bundle(path, extra, extra_value, &out, &err);
  CHECK_MSG(rc == 0 && strstr((char *)out.data, "wrote "), "gpupv bundle: exit %d: %s%s", rc,
            out.data ? (char *)out.data : "", err.data ? (char *)err.data : "");
  buf_done(&out);
  buf_done(&err);
}

/* `gpupv-guestd --install-bundle path` into root: its exit code; out and err as given. */
static int install(const char *path, const char *root, const char *state, struct buf *out,
                   struct buf *err) {
  char *argv[] = {"gpupv-guestd", "--install-bundle", (char *)path,  "--root",
                  (char *)root,   "--state-dir",      (char *)state, NULL};
  return agents_run(argv, out, err);
}

static char *install_ok(const char *path, const char *root, const char *state) {
  struct buf out, err;
  int rc = install(path, root, state, &out, &err);
  CHECK_MSG(rc == 0, "--install-bundle: exit %d: %s", rc, err.data ? (char *)err.data : "");
  char *note = strdup(out.data ? (char *)out.data : "");
  buf_done(&out);
  buf_done(&err);
  return note;
}

/* An install that must fail naming mention, leaving root's tree as it was. */
static void install_refused(const char *path, const char *root, const char *state,
                            const char *mention) {
  struct tree before, after;
  char wsl[1100], why[512];
  /* the visible tree (drivers and lib are links into the current generation) */
  snprintf(wsl, sizeof wsl, "%s/usr/lib/wsl/drivers/", root);
  int existed = access(wsl, F_OK) == 0;
  if (existed)
    tree_list(wsl, &before);
  struct buf out, err;
  int rc = install(path, root, state, &out, &err);
  CHECK_MSG(rc == 1, "a bad bundle (%s) installed: exit %d: %s", mention, rc,
            out.data ? (char *)out.data : "");
  CHECK_MSG(err.data && strstr((char *)err.data, mention), "the refusal does not say '%s': %s",
            mention, err.data ? (char *)err.data : "");
  if (existed) {
    tree_list(wsl, &after);
    CHECK_MSG(tree_equal(&before, &after, why, sizeof why), "a refused bundle changed %s: %s", wsl,
              why);
    tree_free(&before);
    tree_free(&after);
  } else {
    CHECK_MSG(access(wsl, F_OK) != 0, "a refused bundle installed %s", wsl);
  }
  buf_done(&out);
  buf_done(&err);
}

/* What edit does to an entry: keep it (perhaps changed), or drop it. */
enum edit { KEEP, DROP };
typedef enum edit (*edit_fn)(char *name, size_t name_size, struct buf *content);

/* Copies bundle in to out (an uncompressed tar), letting edit change each entry. */
static void rewrite(const char *in, const char *out, edit_fn edit) {
  struct archive *r = archive_read_new(), *w = archive_write_new();
  archive_read_support_filter_all(r);
  archive_read_support_format_tar(r);
  CHECK(archive_read_open_filename(r, in, 65536) == ARCHIVE_OK);
  CHECK(archive_write_set_format_pax_restricted(w) == ARCHIVE_OK &&
        archive_write_open_filename(w, out) == ARCHIVE_OK);
  struct archive_entry *e;
  while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
    char name[512];
    snprintf(name, sizeof name, "%s", archive_entry_pathname(e));
    struct buf content;
    buf_init(&content);
    la_int64_t size = archive_entry_size(e);
    CHECK(buf_reserve(&content, (size_t)size + 1) == 0);
    CHECK(archive_read_data(r, content.data, (size_t)size) == size);
    content.len = (size_t)size;
    content.data[content.len] = 0; /* the edits read it as text */
    if (edit(name, sizeof name, &content) == KEEP) {
      struct archive_entry *o = archive_entry_new();
      archive_entry_set_pathname(o, name);
      archive_entry_set_size(o, (la_int64_t)content.len);
      archive_entry_set_filetype(o, AE_IFREG);
      archive_entry_set_perm(o, 0644);
      CHECK(archive_write_header(w, o) == ARCHIVE_OK);
      CHECK(archive_write_data(w, content.data, content.len) == (la_ssize_t)content.len);
      archive_entry_free(o);
    }
    buf_done(&content);
  }
  archive_read_free(r);
  CHECK(archive_write_close(w) == ARCHIVE_OK);
  archive_write_free(w);
}

static int is_blob(const char *name) {
  uint8_t sha[HASH_LEN];
  return bundle_blob_name(name, sha) == 0;
}

static int flipped;
static enum edit flip_a_blob_byte(char *name, size_t n, struct buf *c) {
  (void)n;
  if (is_blob(name) && c->len > 100 && !flipped++)
    c->data[c->len / 2] ^= 0x20;
  return KEEP;
}

static enum edit change_the_manifest(char *name, size_t n, struct buf *c) {
  (void)n;
  char *p = strstr((char *)c->data, "\"size\":");
  if (strcmp(name, BUNDLE_MANIFEST_NAME) == 0 && p)
    p[7] = p[7] == '1' ? '2' : '1';
  return KEEP;
}

static int dropped;
static enum edit drop_a_blob(char *name, size_t n, struct buf *c) {
  (void)n;
  return is_blob(name) && c->len > 100 && !dropped++ ? DROP : KEEP;
}

static enum edit rename_a_blob_outside(char *name, size_t n, struct buf *c) {
  (void)c;
  if (is_blob(name))
    snprintf(name, n, "blobs/../../../../etc/gpupv-evil");
  return KEEP;
}

static enum edit add_an_unlisted_blob(char *name, size_t n, struct buf *c) {
  if (is_blob(name) && c->len > 100) {
    uint8_t sha[HASH_LEN];
    char hex[HASH_HEX_LEN + 1];
    c->data[0] ^= 1;
    hash_bytes(c->data, c->len, sha);
    hash_to_hex(sha, hex);
    snprintf(name, n, "%s%s", BUNDLE_BLOB_PREFIX, hex);
  }
  return KEEP;
}

static struct sign_key *other_key;
/* Signs the bundle again with another key: a valid signature by a host this guest does not
 * trust. */
static enum edit sign_with_another_key(char *name, size_t n, struct buf *c) {
  (void)n;
  if (strcmp(name, BUNDLE_HEADER_NAME) != 0)
    return KEEP;
  cJSON *o = cJSON_ParseWithLength((const char *)c->data, c->len);
  struct bundle_header h;
  const char *reason;
  CHECK(o && bundle_header_parse(o, &h, &reason) == 0);
  cJSON_Delete(o);
  sign_key_public(other_key, h.key);
  CHECK(sign_generation(other_key, h.generation, h.signature) == 0);
  o = bundle_header_json(&h);
  char *text = cJSON_PrintUnformatted(o);
  c->len = 0;
  CHECK(buf_append_str(c, text) == 0);
  cJSON_free(text);
  cJSON_Delete(o);
  return KEEP;
}

static enum edit keep_all(char *name, size_t n, struct buf *c) {
  (void)name, (void)n, (void)c;
  return KEEP;
}

TEST(e2e_bundle_round_trip_installs_what_a_push_would) {
  struct proc host, guest;
  start_host(&host);
  const char *b = test_path("gpupv.bundle");
  bundle_ok(b, "--with-agent", proc_bin("gpupv-guestd"));
  CHECK(access(test_path("gpupv.bundle.part"), F_OK) != 0);
  const char *root = test_path("root"), *state = agents_guest_state("g1");
  char *note = install_ok(b, root, state);
  CHECK_MSG(strstr(note, "installed generation") && strstr(note, "0 already here"), "%s", note);
  free(note);
  agents_check_installed(root, test_path("src"));
  /* the bundle pinned the host's key, as a first push does */
  struct buf pin;
  buf_init(&pin);
  CHECK(fs_read_file(test_path("guest-state-g1/host-key"), 4096, &pin) == 0);
  cJSON *status = agents_status();
  const char *host_key =
      cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "key")->valuestring;
  CHECK(pin.len >= 64 && memcmp(pin.data, host_key, 64) == 0);
  cJSON_Delete(status);
  buf_done(&pin);
  /* connected afterwards, the guest is in sync with no content to fetch */
  agents_start_guest(&guest, "g1", root);
  agents_push_ok("g1");
  status = agents_status();
  const cJSON *g = agents_guest(status, "g1");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "in_sync")));
  CHECK_EQ_INT(agents_num(g, "last_push.bytes"), 0);
  cJSON_Delete(status);
  /* the agent's file travelled too, and the guest would not read it */
  struct archive *r = archive_read_new();
  archive_read_support_filter_all(r);
  archive_read_support_format_tar(r);
  CHECK(archive_read_open_filename(r, b, 65536) == ARCHIVE_OK);
  struct archive_entry *e;
  int agent = 0;
  while (archive_read_next_header(r, &e) == ARCHIVE_OK)
    agent |= strcmp(archive_entry_pathname(e), "agent/gpupv-guestd") == 0;
  CHECK(archive_filter_code(r, 0) == ARCHIVE_FILTER_ZSTD);
  archive_read_free(r);
  CHECK_MSG(agent, "the bundle lacks agent/gpupv-guestd");
  /* a running agent holds the state folder: a bundle waits for it to stop */
  struct buf out, err;
  CHECK(install(b, root, state, &out, &err) == 1 && strstr((char *)err.data, "stop it first"));
  buf_done(&out);
  buf_done(&err);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_bundle_for_a_guest_with_part_of_the_content_takes_the_rest) {
  struct proc host;
  start_host(&host);
  const char *root = test_path("root"), *state = agents_guest_state("g1");
  bundle_ok(test_path("one.bundle"), "--compression", "gzip");
  free(install_ok(test_path("one.bundle"), root, state));
  char *first = agents_host_generation();
  char renamed[256];
  CHECK(fixture_bump(test_path("src"), 3, renamed, sizeof renamed) == 0);
  uint64_t deadline = uv_hrtime() + 30ull * 1000000000;
  char *second;
  while (strcmp((second = agents_host_generation()), first) == 0) {
    free(second);
    CHECK_MSG(uv_hrtime() < deadline, "the host never published the driver update");
  }
  bundle_ok(test_path("two.bundle"), NULL, NULL);
  char *note = install_ok(test_path("two.bundle"), root, state);
  unsigned long long taken = 0, here = 0;
  const char *p = strstr(note, "files; ");
  CHECK_MSG(p && sscanf(p, "files; %llu blobs", &taken) == 1, "%s", note);
  CHECK_MSG((p = strstr(note, "bundle, ")) && sscanf(p, "bundle, %llu already here", &here) == 1,
            "%s", note);
  CHECK_MSG(taken > 0 && here > taken, "the guest took %llu blobs and had %llu: %s", taken, here,
            note);
  agents_check_installed(root, test_path("src"));
  /* the previous generation is kept, as after a push */
  char *cmd[] = {"gpupv-guestd", "--rollback",  "--root", (char *)root,
                 "--state-dir",  (char *)state, NULL};
  struct buf out, err;
  CHECK(agents_run(cmd, &out, &err) == 0 && strstr((char *)out.data, first) == NULL);
  CHECK(strstr((char *)out.data, "rolled back to generation"));
  buf_done(&out);
  buf_done(&err);
  free(note);
  free(first);
  free(second);
  proc_stop(&host);
}

TEST(e2e_bundle_changed_in_any_part_is_refused) {
  struct proc host;
  start_host(&host);
  const char *good = test_path("good.bundle"), *bad = test_path("bad.bundle");
  const char *root = test_path("root"), *state = agents_guest_state("g1");
  bundle_ok(good, "--compression", "none");
  /* a copy the suite rewrote without changing anything still installs: the rewriting is sound */
  rewrite(good, bad, keep_all);
  free(install_ok(bad, test_path("other-root"), agents_guest_state("other")));
  /* the guest has the good generation; each bad bundle must leave it exactly so */
  free(install_ok(good, root, state));
  static const struct {
    edit_fn edit;
    const char *mention;
  } cases[] = {
      {change_the_manifest, "does not hash to generation"},
      {add_an_unlisted_blob, "which its manifest does not list"},
      {rename_a_blob_outside, "no blob"},
      {sign_with_another_key, "but this guest trusts"},
  };
  CHECK(sign_key_generate(&other_key) == 0);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rewrite(good, bad, cases[i].edit);
    install_refused(bad, root, state, cases[i].mention);
  }
  /* content the guest holds is not read again; into a fresh guest, a bundle with changed
   * content, or lacking content, installs nothing at all */
  rewrite(good, bad, flip_a_blob_byte);
  free(install_ok(bad, root, state));
  install_refused(bad, test_path("fresh-root"), agents_guest_state("fresh"),
                  "does not hold the content of that hash");
  rewrite(good, bad, drop_a_blob);
  install_refused(bad, test_path("fresh-root"), agents_guest_state("fresh"), "the bundle lacks");
  CHECK(access(test_path("fresh-root/usr/lib/wsl/drivers"), F_OK) != 0);
  /* a cut-off file, and one that is no bundle at all */
  struct buf whole;
  buf_init(&whole);
  CHECK(fs_read_file(good, 1u << 30, &whole) == 0);
  CHECK(fs_write_atomic(bad, whole.data, whole.len / 2, 0644) == 0);
  install_refused(bad, root, state, "--install-bundle");
  CHECK(fs_write_atomic(bad, "hello", 5, 0644) == 0);
  install_refused(bad, root, state, "--install-bundle");
  buf_done(&whole);
  sign_key_free(other_key);
  agents_check_installed(root, test_path("src"));
  proc_stop(&host);
}

TEST(e2e_bundle_usage_errors) {
  struct proc host;
  start_host(&host);
  char *no_out[] = {"gpupv", "--control", (char *)agents_control_uri(), "bundle", NULL};
  struct buf out, err;
  CHECK(agents_run(no_out, &out, &err) == 2 && strstr((char *)err.data, "--out"));
  buf_done(&out);
  buf_done(&err);
  CHECK(bundle(test_path("x.bundle"), "--compression", "lz4", &out, &err) == 2 &&
        strstr((char *)err.data, "zstd, gzip or none"));
  buf_done(&out);
  buf_done(&err);
  CHECK(bundle(test_path("x.bundle"), "--with-agent", test_path("missing.deb"), &out, &err) == 2 &&
        strstr((char *)err.data, "missing.deb"));
  buf_done(&out);
  buf_done(&err);
  CHECK(bundle(test_path("no-such-dir/x.bundle"), NULL, NULL, &out, &err) == 1 &&
        strstr((char *)err.data, "no-such-dir"));
  buf_done(&out);
  buf_done(&err);
  char *both[] = {"gpupv-guestd", "--install-bundle", "x", "--rollback", NULL};
  agents_expect_usage_error(both, "--install-bundle");
  proc_stop(&host);
}

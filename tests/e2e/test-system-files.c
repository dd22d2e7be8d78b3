/*
 * The files a driver declares for VMs (CopyToVm) travel in the manifest's system_files
 * section, to guests that announce the system_files capability; a guest of the previous
 * release, which does not, gets the manifest it understands: signed, with its own id.
 */
#include "common/sign.h"
#include "common/text.h"
#include "proto/manifest.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/peer.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct fixture_spec spec = {
    .seed = 31, .packages = 2, .files_per_package = 10, .small_max = 3000};

struct offered {
  char generation[HASH_HEX_LEN + 1];
  struct manifest *m;
  int has_system_member; /* the bytes name system_files at all */
};

/* Says hello as name (with the capability or, like the previous release, without), reads the
 * offer and its manifest, and checks the signature with the host's key. */
static void offer_for(struct peer *p, const char *name, int caps, const char *key_hex,
                      struct offered *o) {
  peer_connect_unix(p, test_path("guests.sock"));
  cJSON *hello = msg_new_hello(name, NULL);
  cJSON_AddStringToObject(hello, "agent", "gpupv-guestd 0.9 (the previous release)");
  if (caps)
    cJSON_AddItemToArray(cJSON_AddArrayToObject(hello, "caps"),
                         cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
  peer_send_msg(p, hello);
  CHECK(peer_recv_type(p, MSG_WELCOME));
  cJSON *offer = peer_recv_type(p, MSG_OFFER);
  CHECK_MSG(offer, "no offer for %s", name);
  snprintf(o->generation, sizeof o->generation, "%s",
           cJSON_GetObjectItem(offer, "generation")->valuestring);
  uint8_t id[HASH_LEN], key[SIGN_KEY_LEN], sig[SIGN_SIG_LEN];
  CHECK(hash_from_hex(o->generation, id) == 0);
  CHECK(text_hex_decode(key_hex, key, sizeof key) == 0);
  CHECK(text_hex_decode(cJSON_GetObjectItem(offer, "signature")->valuestring, sig, sizeof sig) ==
        0);
  CHECK_MSG(sign_verify_generation(key, id, sig) == 0, "the offer to %s is not signed", name);
  size_t size = (size_t)agents_num(offer, "size");
  peer_read_data(p, size);
  const char *reason = NULL;
  CHECK_MSG(manifest_decode(p->data, size, &MANIFEST_DEFAULT_LIMITS, &o->m, &reason) == 0, "%s",
            reason);
  CHECK_MSG(memcmp(o->m->id, id, HASH_LEN) == 0, "the offer names another manifest");
  o->has_system_member = memmem(p->data, size, "system_files", 12) != NULL;
}

/* Takes nothing and says it installed the offered generation. */
static void install(struct peer *p, const struct offered *o) {
  cJSON *want = msg_new(MSG_WANT);
  cJSON_AddStringToObject(want, "generation", o->generation);
  cJSON_AddArrayToObject(want, "hashes");
  cJSON_AddBoolToObject(want, "more", 0);
  peer_send_msg(p, want);
  cJSON *inst = msg_new(MSG_INSTALLED);
  cJSON_AddStringToObject(inst, "generation", o->generation);
  cJSON_AddBoolToObject(inst, "ok", 1);
  cJSON_AddObjectToObject(inst, "status");
  peer_send_msg(p, inst);
}

static const cJSON *host_of(const cJSON *status) {
  return cJSON_GetObjectItem(status, "host");
}

TEST(e2e_system_files_reach_capable_guests_and_old_guests_still_install) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host;
  agents_start_host(&host, src, NULL, NULL);
  cJSON *status = agents_status();
  const cJSON *h = host_of(status);
  CHECK_EQ_INT(agents_num(status, "host.system_files"), 2);
  const char *full = cJSON_GetObjectItem(h, "generation")->valuestring;
  const char *plain = cJSON_GetObjectItem(h, "generation_plain")->valuestring;
  const char *key = cJSON_GetObjectItem(h, "key")->valuestring;
  CHECK(strcmp(full, plain) != 0);

  /* a guest of this release gets them */
  struct peer now, old;
  struct offered a, b;
  offer_for(&now, "current", 1, key, &a);
  CHECK_EQ_STR(a.generation, full);
  CHECK_EQ_INT(a.m->nsystem, 2);
  CHECK_EQ_STR(a.m->system[0].name, "gpu_runtime64.dll");
  /* one that does not announce the capability gets the manifest of the previous format */
  offer_for(&old, "previous", 0, key, &b);
  CHECK_EQ_STR(b.generation, plain);
  CHECK(!b.has_system_member && b.m->nsystem == 0);
  CHECK_EQ_INT(b.m->nfiles, a.m->nfiles);
  /* both install what they were offered, and both are in sync */
  install(&now, &a);
  install(&old, &b);
  CHECK(agents_wait_guest("current", "in_sync", 1));
  CHECK(agents_wait_guest("previous", "in_sync", 1));
  cJSON *after = agents_status();
  const cJSON *g = agents_guest(after, "previous");
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "generation")->valuestring, plain);
  CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(g, "system_files")));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(after, "current"), "system_files")));
  cJSON_Delete(after);
  /* a current guest that claims the plain form is not in sync: it is offered the full one */
  peer_close(&now);
  struct peer again;
  peer_connect_unix(&again, test_path("guests.sock"));
  cJSON *hello = msg_new_hello("current", plain);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(hello, "caps"),
                       cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
  peer_send_msg(&again, hello);
  cJSON *offer = peer_recv_type(&again, MSG_OFFER);
  CHECK(offer && strcmp(cJSON_GetObjectItem(offer, "generation")->valuestring, full) == 0);
  peer_close(&again);
  peer_close(&old);
  manifest_free(a.m);
  manifest_free(b.m);
  cJSON_Delete(status);
  proc_stop(&host);
}

TEST(e2e_system_file_flag_replaces_the_inf_lists) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, &spec) == 0);
  /* the first package's name, which the flag names */
  struct proc host;
  agents_start_host(&host, src, NULL, NULL);
  cJSON *status = agents_status();
  const cJSON *pkgs = cJSON_GetObjectItem(host_of(status), "packages");
  char pkg[256];
  snprintf(pkg, sizeof pkg, "%s",
           cJSON_GetObjectItem(cJSON_GetArrayItem(pkgs, 0), "name")->valuestring);
  cJSON_Delete(status);
  proc_stop(&host);
  char flag[600];
  snprintf(flag, sizeof flag, "%s/empty.cat=SysWOW64/gpu.cat:when-newer", pkg);
  char *extra[] = {"--system-file", flag, NULL};
  agents_start_host(&host, src, NULL, extra);
  struct peer p;
  struct offered o;
  status = agents_status();
  offer_for(&p, "current", 1, cJSON_GetObjectItem(host_of(status), "key")->valuestring, &o);
  CHECK_EQ_INT(o.m->nsystem, 1);
  CHECK_EQ_STR(o.m->system[0].name, "gpu.cat");
  CHECK(o.m->system[0].folder == SYSDIR_SYSWOW64 && o.m->system[0].rule == RULE_WHEN_NEWER);
  peer_close(&p);
  manifest_free(o.m);
  cJSON_Delete(status);
  proc_stop(&host);
  /* one naming a file that is not there fails the scan and says which */
  char *missing[] = {"--system-file", "nope.inf_amd64_0/a.dll=System32/a.dll", NULL};
  agents_start_host(&host, src, NULL, missing);
  status = agents_status();
  const cJSON *err = cJSON_GetObjectItem(host_of(status), "scan_error");
  CHECK(cJSON_IsString(err) && strstr(err->valuestring, "no such package"));
  cJSON_Delete(status);
  proc_stop(&host);
}

#include "tests/support/agents.h"

#include "common/buf.h"
#include "common/fs.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

const char *agents_listen_uri(void) {
  static char uri[1100];
  if (!uri[0])
    snprintf(uri, sizeof uri, "unix:%s", test_path("guests.sock"));
  return uri;
}

const char *agents_control_uri(void) {
  static char uri[1100];
  if (!uri[0])
    snprintf(uri, sizeof uri, "unix:%s", test_path("control.sock"));
  return uri;
}

void agents_start_host(struct proc *p, const char *src, const char *msix, char *const extra[]) {
  char store[1024], inbox[1024], packaged[1024];
  snprintf(store, sizeof store, "%s/store", src);
  snprintf(inbox, sizeof inbox, "%s/inbox", src);
  snprintf(packaged, sizeof packaged, "%s/packaged", src);
  char *argv[32] = {"gpupv-hostd", "--driver-store", store, "--lib-inbox", inbox,
                    msix ? "--wsl-msix" : "--lib-packaged", msix ? (char *)msix : packaged,
                    "--state-dir", (char *)test_path("host-state"), "--listen",
                    (char *)agents_listen_uri(), "--control", (char *)agents_control_uri(),
                    "--name", "testhost",
                    /* a source the test just wrote is published after 200 ms, not 2 s;
                     * extra arguments may give another */
                    "--debounce-ms", "200"};
  int argc = 17;
  for (int i = 0; extra && extra[i] && argc < 30; i++)
    argv[argc++] = extra[i];
  argv[argc] = NULL;
  proc_start_daemon(p, test_path("host.log"), argv);
}

const char *agents_guest_state(const char *name) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/guest-state-%s", test_dir(), name);
  return path;
}

static void guest_argv(char **argv, const char *name, const char *root, char *state) {
  snprintf(state, 1024, "%s", agents_guest_state(name));
  char *args[] = {"gpupv-guestd",
                  "--connect",
                  (char *)agents_listen_uri(),
                  "--root",
                  (char *)root,
                  "--state-dir",
                  state,
                  "--name",
                  (char *)name,
                  "--retry-max-ms",
                  "500",
                  NULL};
  memcpy(argv, args, sizeof args);
}

void agents_start_guest(struct proc *p, const char *name, const char *root) {
  agents_start_guest_with(p, name, root, NULL);
}

/* argv (24 slots) of guest name installing under root, with extra arguments after the
 * defaults (a later flag wins); log gets its log file's path. */
static void guest_argv_with(char **argv, const char *name, const char *root, char *const extra[],
                            char *state, char *log) {
  guest_argv(argv, name, root, state);
  int argc = 0;
  while (argv[argc])
    argc++;
  for (int i = 0; extra && extra[i] && argc < 22; i++)
    argv[argc++] = extra[i];
  argv[argc] = NULL;
  snprintf(log, 1024, "%s/guest-%s.log", test_dir(), name);
}

void agents_start_guest_with(struct proc *p, const char *name, const char *root,
                             char *const extra[]) {
  char *argv[24], state[1024], log[1024];
  guest_argv_with(argv, name, root, extra, state, log);
  proc_start_daemon(p, log, argv);
}

void agents_spawn_guest(struct proc *p, const char *name, const char *root) {
  agents_spawn_guest_with(p, name, root, NULL);
}

void agents_spawn_guest_with(struct proc *p, const char *name, const char *root,
                             char *const extra[]) {
  char *argv[24], state[1024], log[1024];
  guest_argv_with(argv, name, root, extra, state, log);
  proc_start(p, log, argv, NULL);
}

int agents_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

cJSON *agents_status(void) {
  struct buf out, err;
  buf_init(&out);
  buf_init(&err);
  char *argv[] = {"gpupv", "--control", (char *)agents_control_uri(), "status", "--json", NULL};
  int rc = proc_run(argv, &out, &err);
  CHECK_MSG(rc == 0, "gpupv status failed (%d): %s", rc, err.data ? (char *)err.data : "");
  cJSON *status = cJSON_ParseWithLength((const char *)out.data, out.len);
  CHECK_MSG(status, "gpupv status --json printed no JSON");
  buf_done(&out);
  buf_done(&err);
  return status;
}

void agents_wait_connected(const char *name) {
  uint64_t deadline = uv_hrtime() + 30ull * 1000000000;
  for (;;) {
    cJSON *status = agents_status();
    int connected = cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, name), "connected"));
    cJSON_Delete(status);
    if (connected)
      return;
    CHECK_MSG(uv_hrtime() < deadline, "guest %s never connected", name);
  }
}

const cJSON *agents_guest(const cJSON *status, const char *name) {
  const cJSON *g;
  cJSON_ArrayForEach(g, cJSON_GetObjectItem(status, "guests")) {
    const cJSON *n = cJSON_GetObjectItem(g, "name");
    if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
      return g;
  }
  return NULL;
}

int agents_push(const char *guest, cJSON **ret_result) {
  struct buf out, err;
  buf_init(&out);
  buf_init(&err);
  char *argv[] = {
      "gpupv", "--control", (char *)agents_control_uri(), "push",        "--wait", "--timeout",
      "120",   "--json",    guest ? "--guest" : NULL,     (char *)guest, NULL};
  int rc = proc_run(argv, &out, &err);
  CHECK_MSG(out.len, "gpupv push printed nothing (exit %d): %s", rc,
            err.data ? (char *)err.data : "");
  /* the result is the last JSON line */
  out.data[out.len] = 0;
  while (out.len && out.data[out.len - 1] == '\n')
    out.data[--out.len] = 0;
  char *last = strrchr((char *)out.data, '\n');
  cJSON *result = cJSON_Parse(last ? last + 1 : (char *)out.data);
  CHECK_MSG(result, "gpupv push --json: no JSON result");
  if (ret_result)
    *ret_result = result;
  else
    cJSON_Delete(result);
  buf_done(&out);
  buf_done(&err);
  return rc;
}

void agents_push_ok(const char *guest) {
  cJSON *result;
  int rc = agents_push(guest, &result);
  int ok = cJSON_IsTrue(cJSON_GetObjectItem(result, "ok"));
  char *text = cJSON_PrintUnformatted(result);
  CHECK_MSG(rc == 0 && ok, "push failed (exit %d): %s", rc, text);
  free(text);
  cJSON_Delete(result);
}

void agents_start_synced(struct proc *host, struct proc *guest, const char *src, const char *root,
                         char *const host_extra[]) {
  agents_start_host(host, src, NULL, host_extra);
  agents_start_guest(guest, "g1", root);
  agents_push_ok("g1");
}

void agents_check_installed(const char *root, const char *src) {
  char a[1024], b[1024], why[512];
  struct tree want, got, packaged;
  snprintf(a, sizeof a, "%s/store", src);
  snprintf(b, sizeof b, "%s/usr/lib/wsl/drivers", root);
  tree_list(a, &want);
  tree_list(b, &got);
  tree_as_installed(&want);
  CHECK_MSG(tree_equal(&want, &got, why, sizeof why), "drivers differ from the host: %s", why);
  CHECK_MSG(tree_folders_sealed(&got, why, sizeof why), "drivers: %s", why);
  tree_free(&want);
  tree_free(&got);
  snprintf(a, sizeof a, "%s/inbox", src);
  tree_list(a, &want);
  snprintf(a, sizeof a, "%s/packaged", src);
  tree_list(a, &packaged);
  tree_merge(&want, &packaged, 1);
  tree_as_installed(&want);
  snprintf(b, sizeof b, "%s/usr/lib/wsl/lib", root);
  tree_list(b, &got);
  CHECK_MSG(tree_folders_sealed(&got, why, sizeof why), "lib: %s", why);
  CHECK_MSG(tree_equal(&want, &got, why, sizeof why), "lib differs from inbox+packaged: %s", why);
  tree_free(&want);
  tree_free(&got);
  tree_free(&packaged);
  snprintf(a, sizeof a, "%s/etc/ld.so.conf.d/ld.wsl.conf", root);
  struct buf conf;
  buf_init(&conf);
  CHECK_MSG(fs_read_file(a, 4096, &conf) == 0, "no %s", a);
  CHECK_EQ_STR((char *)conf.data, "/usr/lib/wsl/lib\n");
  buf_done(&conf);
}

int agents_dashboard_port(void) {
  cJSON *status = agents_status();
  const cJSON *url = cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "dashboard");
  CHECK_MSG(cJSON_IsString(url), "status has no host.dashboard");
  int port = 0;
  CHECK(sscanf(url->valuestring, "http://127.0.0.1:%d/", &port) == 1 && port > 0);
  cJSON_Delete(status);
  return port;
}

int agents_wait_guest(const char *name, const char *key, int want_true) {
  for (int i = 0; i < 3000; i++) {
    cJSON *status = agents_status();
    const cJSON *g = agents_guest(status, name);
    int v = g && cJSON_IsTrue(cJSON_GetObjectItem(g, key));
    cJSON_Delete(status);
    if (v == want_true)
      return 1;
    struct pollfd none;
    poll(&none, 0, 10); /* between two looks at the host's state, not a synchronisation */
  }
  return 0;
}

char *agents_host_generation(void) {
  cJSON *status = agents_status();
  const cJSON *gen = cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "generation");
  CHECK(cJSON_IsString(gen));
  char *copy = strdup(gen->valuestring);
  cJSON_Delete(status);
  return copy;
}

double agents_num(const cJSON *o, const char *path) {
  char key[256];
  snprintf(key, sizeof key, "%s", path);
  const cJSON *cur = o;
  for (char *save = NULL, *part = strtok_r(key, ".", &save); part;
       part = strtok_r(NULL, ".", &save))
    cur = cJSON_GetObjectItem(cur, part);
  CHECK_MSG(cJSON_IsNumber(cur), "no number at %s", path);
  return cur->valuedouble;
}

int agents_run(char *const argv[], struct buf *out, struct buf *err) {
  buf_init(out);
  buf_init(err);
  return proc_run(argv, out, err);
}

const char *agents_make_inbox(void) {
  const char *inbox = test_path("inbox");
  CHECK(fs_mkdir_p(inbox, 0755) == 0);
  CHECK(fs_write_atomic(test_path("inbox/libcuda.so.1"), "cuda", 4, 0755) == 0);
  return inbox;
}

/* Lines of b that hold needle (all lines for ""). */
static int lines(const struct buf *b, const char *needle) {
  int n = 0;
  for (const char *line = (const char *)b->data; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    n += !*needle || memmem(line, len, needle, strlen(needle)) != NULL;
    line = end ? end + 1 : NULL;
  }
  return n;
}

void agents_expect_usage_error(char *const argv[], const char *mention) {
  agents_expect_exit(argv, 2, mention);
}

void agents_expect_exit(char *const argv[], int code, const char *mention) {
  struct buf out, err;
  int rc = agents_run(argv, &out, &err);
  CHECK_MSG(rc == code, "%s %s: exit %d, want %d: %s", argv[0], argv[1], rc, code,
            err.data ? (char *)err.data : "");
  /* a usage error is the only line; a failed start logs what it did first, then one error */
  CHECK_MSG(lines(&err, code == 2 ? "" : " error: ") == 1, "%s %s: want one %s on stderr, got: %s",
            argv[0], argv[1], code == 2 ? "line" : "error line", err.data ? (char *)err.data : "");
  CHECK_MSG(strstr((char *)err.data, mention), "%s: error does not mention '%s': %s", argv[0],
            mention, (char *)err.data);
  buf_done(&out);
  buf_done(&err);
}

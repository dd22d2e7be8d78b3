/*
 * A driver update reaches the guest by itself: the host watches its source, waits until an
 * installer has finished (one generation for the whole update), and never publishes a source
 * that is still being written, whatever asks for a scan meanwhile.
 */
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/proc.h"
#include "tests/support/test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct fixture_spec spec = {
    .seed = 21, .packages = 2, .files_per_package = 12, .small_max = 4000};

static void pause_ms(int ms) {
  struct pollfd none;
  poll(&none, 0, ms); /* an installer's pace between two steps, not a synchronisation */
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to limit_s for the host to publish something other than old and g1 to install it;
 * returns the seconds it took, or -1. */
static double wait_new_generation_installed(const char *old, double limit_s) {
  double t0 = now_s();
  while (now_s() - t0 < limit_s) {
    cJSON *status = agents_status();
    const cJSON *host = cJSON_GetObjectItem(status, "host");
    const cJSON *gen = cJSON_GetObjectItem(host, "generation");
    const cJSON *g = agents_guest(status, "g1");
    const cJSON *installed = cJSON_GetObjectItem(g, "generation");
    int done = cJSON_IsString(gen) && strcmp(gen->valuestring, old) != 0 &&
               cJSON_IsString(installed) && strcmp(installed->valuestring, gen->valuestring) == 0;
    cJSON_Delete(status);
    if (done)
      return now_s() - t0;
    pause_ms(20);
  }
  return -1;
}

static double published(void) {
  cJSON *status = agents_status();
  double n = agents_num(status, "host.generations_published");
  cJSON_Delete(status);
  return n;
}

/* The first package folder's path in buf. */
static void first_package(const char *src, char *buf, size_t size) {
  char store[1024];
  char **names;
  size_t n;
  snprintf(store, sizeof store, "%s/store", src);
  CHECK(fs_list_dir(store, &names, &n) == 0 && n > 0);
  snprintf(buf, size, "%.500s/%.200s", store, names[0]);
  fs_names_free(names, n);
}

TEST(e2e_driver_update_reaches_the_guest_by_itself) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *extra[] = {"--debounce-ms", "2000", NULL}; /* the default, not the tests' 200 ms */
  agents_start_synced(&host, &guest, src, root, extra);
  char *old = agents_host_generation();
  double before = published();
  /* An installer at its own pace: packages rewritten and renamed, a new package folder
   * written file by file, the libraries rewritten; each step well within the quiet time. */
  char renamed[256], pkg[1024], path[1200];
  CHECK(fixture_bump(src, 5, renamed, sizeof renamed) == 0);
  pause_ms(30);
  snprintf(pkg, sizeof pkg, "%s/store/nv_new.inf_amd64_0123", src);
  CHECK(fs_mkdir_p(pkg, 0755) == 0);
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/part%d.dll", pkg, i);
    CHECK(fixture_write_file(path, 900 + (uint64_t)i, 3000 + (uint64_t)i * 500) == 0);
    pause_ms(30);
  }
  snprintf(path, sizeof path, "%s/inbox/libcuda.so.1", src);
  CHECK(fixture_write_file(path, 77, 5000) == 0);
  double took = wait_new_generation_installed(old, 10);
  CHECK_MSG(took >= 0, "the guest did not get the update within 10 s");
  agents_check_installed(root, src);
  CHECK_MSG(published() == before + 1, "the update made %.0f generations, not one",
            published() - before);
  char *log = proc_read_log(test_path("host.log"));
  CHECK(strstr(log, "the source changed and has been quiet for 2000 ms"));
  free(log);
  free(old);
  proc_stop(&guest);
  proc_stop(&host);
}

/* Appends to path, 4 KiB every 4 ms, count times; a child process. */
static pid_t start_writer(const char *path, int count) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid)
    return pid;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char block[4096];
  memset(block, 'w', sizeof block);
  for (int i = 0; fd >= 0 && i < count; i++) {
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
      _exit(1);
    pause_ms(4);
  }
  _exit(fd >= 0 && close(fd) == 0 ? 0 : 1);
}

TEST(e2e_source_being_written_is_not_published) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *extra[] = {"--debounce-ms", "800", NULL};
  agents_start_synced(&host, &guest, src, root, extra);
  char *old = agents_host_generation();
  double before = published();
  char pkg[1024], growing[1200];
  first_package(src, pkg, sizeof pkg);
  snprintf(growing, sizeof growing, "%s/big-update.bin", pkg);
  const int blocks = 400;
  pid_t writer = start_writer(growing, blocks);
  /* while it writes, the admin asks for rescans; none may publish the file half-written */
  int status = 0, hups = 0;
  while (waitpid(writer, &status, WNOHANG) == 0) {
    CHECK(kill(host.pid, SIGHUP) == 0);
    hups++;
    pause_ms(50);
  }
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(hups >= 5);
  CHECK_MSG(wait_new_generation_installed(old, 10) >= 0, "the finished file was never published");
  CHECK_MSG(published() == before + 1, "%.0f generations were published while the file grew",
            published() - before);
  agents_check_installed(root, src); /* the whole file, as the writer left it */
  struct fs_info info;
  CHECK(fs_info_path(growing, &info) == 0 && info.size == (uint64_t)blocks * 4096);
  free(old);
  proc_stop(&guest);
  proc_stop(&host);
}

TEST(e2e_no_watch_still_rescans_on_push) {
  const char *src = test_path("src"), *root = test_path("guest1");
  CHECK(fixture_make(src, &spec) == 0);
  struct proc host, guest;
  char *extra[] = {"--no-watch", "--debounce-ms", "0", NULL};
  agents_start_synced(&host, &guest, src, root, extra);
  cJSON *status = agents_status();
  CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(status, "host"), "watch"), "enabled")));
  cJSON_Delete(status);
  char *old = agents_host_generation();
  char path[1200];
  snprintf(path, sizeof path, "%s/inbox/libcuda.so.1", src);
  CHECK(fixture_write_file(path, 78, 6000) == 0);
  /* asked: a push rescans, and the guest gets the change */
  agents_push_ok("g1");
  char *now = agents_host_generation();
  CHECK(strcmp(now, old) != 0);
  agents_check_installed(root, src);
  free(now);
  free(old);
  proc_stop(&guest);
  proc_stop(&host);
}

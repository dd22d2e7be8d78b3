/* gpupv nanabox on an example configuration of our own, and on files that are not one. */
#include "common/fs.h"
#include "tests/support/agents.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_nanabox(char *const args[], struct buf *out, struct buf *err) {
  char *argv[8] = {"gpupv", "nanabox"};
  int n = 2;
  for (; args[n - 2] && n < 7; n++)
    argv[n] = args[n - 2];
  argv[n] = NULL;
  return agents_run(argv, out, err);
}

static cJSON *read_vm(const char *path, int *ret_bom) {
  struct buf text;
  buf_init(&text);
  CHECK(fs_read_file(path, 1 << 20, &text) == 0);
  *ret_bom = text.len >= 3 && memcmp(text.data, "\xef\xbb\xbf", 3) == 0;
  cJSON *doc =
      cJSON_ParseWithLength((char *)text.data + (*ret_bom ? 3 : 0), text.len - (*ret_bom ? 3 : 0));
  buf_done(&text);
  CHECK(doc);
  return doc;
}

TEST(e2e_nanabox_sets_the_gpu_and_keeps_the_rest) {
  char example[1024];
  snprintf(example, sizeof example, "%s/nanabox-example.7b", test_data_dir());
  const char *vm = test_path("vm.7b");
  CHECK(fs_copy_file(example, vm, 0644) == 0);
  struct buf out, err;
  /* shown */
  char *show[] = {(char *)vm, NULL};
  CHECK_EQ_INT(run_nanabox(show, &out, &err), 0);
  CHECK(strstr((char *)out.data, "\"AssignmentMode\":\t\"Disabled\""));
  buf_done(&out);
  buf_done(&err);
  /* set, options after the file */
  char *set[] = {(char *)vm, "--mode", "Mirror", "--host-driver-store", "off", NULL};
  CHECK_EQ_INT(run_nanabox(set, &out, &err), 0);
  buf_done(&out);
  buf_done(&err);
  int bom, old_bom;
  cJSON *now = read_vm(vm, &bom), *was = read_vm(example, &old_bom);
  CHECK(bom && old_bom); /* the BOM NanaBox writes stays */
  const cJSON *gpu = cJSON_GetObjectItem(cJSON_GetObjectItem(now, "NanaBox"), "Gpu");
  CHECK_EQ_STR(cJSON_GetObjectItem(gpu, "AssignmentMode")->valuestring, "Mirror");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(gpu, "EnableHostDriverStore")));
  CHECK(cJSON_IsArray(cJSON_GetObjectItem(gpu, "SelectedDevices")));
  /* every other member, in its order, as it was */
  const cJSON *a = cJSON_GetObjectItem(now, "NanaBox")->child;
  const cJSON *b = cJSON_GetObjectItem(was, "NanaBox")->child;
  for (; a && b; a = a->next, b = b->next) {
    CHECK_EQ_STR(a->string, b->string);
    if (strcmp(a->string, "Gpu") != 0)
      CHECK_MSG(cJSON_Compare(a, b, 1), "%s changed", a->string);
  }
  CHECK(!a && !b);
  /* AssignmentMode kept its place before SelectedDevices */
  CHECK_EQ_STR(gpu->child->string, "AssignmentMode");
  cJSON_Delete(now);
  cJSON_Delete(was);
  /* the previous file is kept beside it */
  char backup[1100];
  snprintf(backup, sizeof backup, "%s.bak", vm);
  struct buf x, y;
  buf_init(&x);
  buf_init(&y);
  CHECK(fs_read_file(backup, 1 << 20, &x) == 0 && fs_read_file(example, 1 << 20, &y) == 0);
  CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
  buf_done(&x);
  buf_done(&y);
}

TEST(e2e_nanabox_refuses_what_is_not_a_nanabox_configuration) {
  struct {
    const char *content, *says;
  } bad[] = {
      {"not json at all", "not JSON"},
      {"{\"Name\": \"x\"}", "not a NanaBox configuration"},
      {"{\"NanaBox\": {\"Type\": \"Container\"}}", "Type \"VirtualMachine\""},
      {"{\"NanaBox\": {\"Type\": \"VirtualMachine\", \"Gpu\": 7}}", "Gpu is not an object"},
  };
  const char *vm = test_path("bad.7b");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(fs_write_atomic(vm, bad[i].content, strlen(bad[i].content), 0644) == 0);
    struct buf out, err;
    char *set[] = {"--mode", "List", (char *)vm, NULL};
    CHECK_EQ_INT(run_nanabox(set, &out, &err), 1);
    CHECK_MSG(err.data && strstr((char *)err.data, bad[i].says), "%s: %s", bad[i].content,
              err.data ? (char *)err.data : "");
    buf_done(&out);
    buf_done(&err);
    /* and nothing was written */
    struct buf text;
    buf_init(&text);
    CHECK(fs_read_file(vm, 1 << 20, &text) == 0 && text.len == strlen(bad[i].content));
    buf_done(&text);
  }
  struct buf out, err;
  char *mode[] = {(char *)vm, "--mode", "Sometimes", NULL};
  CHECK_EQ_INT(run_nanabox(mode, &out, &err), 2);
  buf_done(&out);
  buf_done(&err);
  char *missing[] = {(char *)test_path("missing.7b"), NULL};
  CHECK_EQ_INT(run_nanabox(missing, &out, &err), 1);
  buf_done(&out);
  buf_done(&err);
}

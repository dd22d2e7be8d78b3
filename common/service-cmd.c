/* The agents' "install" and "uninstall" commands (platform.h). */
#include "common/buf.h"
#include "common/fs.h"
#include "common/path.h"
#include "common/platform.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

/* A service whose config cannot be read would only fail at its start, where nobody looks:
 * the file must exist and hold a JSON object. (Its settings are checked when it runs.) */
static int check_config(const char *name, const char *path) {
  struct buf text;
  buf_init(&text);
  int err = fs_read_file(path, 1 << 20, &text);
  cJSON *doc = err ? NULL : cJSON_ParseWithLength((const char *)text.data, text.len);
  if (err)
    fprintf(stderr, "%s: the service's --config %s cannot be read: %s\n", name, path,
            uv_strerror(err));
  else if (!cJSON_IsObject(doc))
    fprintf(stderr, "%s: the service's --config %s is not a JSON object of settings\n", name, path);
  int ok = !err && cJSON_IsObject(doc);
  cJSON_Delete(doc);
  buf_done(&text);
  return ok ? 0 : 1;
}

int service_command(const struct service_spec *spec, int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "install") != 0 && strcmp(argv[1], "uninstall") != 0))
    return -1;
  int install = strcmp(argv[1], "install") == 0;
  struct service_spec s = *spec;
  if (install && argc == 4 && (strcmp(argv[2], "--config") == 0 || strcmp(argv[2], "-c") == 0))
    s.config = argv[3];
  else if (argc != 2) {
    fprintf(stderr, "usage: %s install [--config FILE] | uninstall\n", spec->name);
    return 2;
  }
  if (s.config && !path_is_absolute(s.config)) {
    fprintf(stderr, "%s: the service's --config must be an absolute path\n", spec->name);
    return 2;
  }
  if (install && s.config && check_config(spec->name, s.config))
    return 1;
  char err[512] = "";
  int rc = install ? service_install(&s, err, sizeof err) : service_uninstall(&s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "%s: %s\n", spec->name, err);
    return 1;
  }
  printf(install ? "installed the %s service; it starts with the machine (sc start %s starts "
                   "it now)\n"
                 : "removed the %s service%s\n",
         spec->name, install ? spec->name : "");
  return 0;
}

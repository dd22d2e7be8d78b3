/* The agents' "install" and "uninstall" commands (platform.h). */
#include "common/path.h"
#include "common/platform.h"

#include <stdio.h>
#include <string.h>

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

#include "common/service-path.h"

#include <stdio.h>
#include <string.h>

/* The end of the program's path: just after ".exe" followed by a blank or the end. */
static const char *program_end(const char *cmd) {
  for (const char *p = cmd; *p; p++) {
    if ((p[0] == '.') && (p[1] == 'e' || p[1] == 'E') && (p[2] == 'x' || p[2] == 'X') &&
        (p[3] == 'e' || p[3] == 'E') && (p[4] == 0 || p[4] == ' '))
      return p + 4;
  }
  return NULL;
}

int service_path_quote(const char *cmd, char *out, size_t out_size) {
  if (cmd[0] == '"')
    return 0;
  const char *end = program_end(cmd);
  if (!end || !memchr(cmd, ' ', (size_t)(end - cmd)))
    return 0;
  int n = snprintf(out, out_size, "\"%.*s\"%s", (int)(end - cmd), cmd, end);
  return n > 0 && (size_t)n < out_size;
}

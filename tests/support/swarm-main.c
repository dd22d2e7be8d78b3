/* gpupv-swarm: holds N idle guests on a host's Unix socket until stdin closes (benchmarks). */
#include "common/options.h"
#include "tests/support/swarm.h"

#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = 1000;
  char *generation = NULL;
  int help = 0, next;
  const struct opt opts[] = {
      {"guests", 'n', OPT_INT, &n, "N", "guests to connect (default 1000)", 1, 100000},
      {"generation", 0, OPT_STRING, &generation, "HEX", "the generation they claim", 0, 0},
      {"help", 'h', OPT_FLAG, &help, NULL, "show this help", 0, 0},
      {0},
  };
  char err[256];
  if (options_parse(opts, argc, argv, 1, &next, err, sizeof err) || (!help && next != argc - 1)) {
    fprintf(stderr, "gpupv-swarm: %s\n", next == argc - 1 ? err : "give the socket path");
    return 2;
  }
  if (help) {
    printf("Usage: gpupv-swarm [--guests N] [--generation HEX] SOCKET\n\n"
           "Connects N idle guests to the host agent's Unix socket, prints \"ready\", and holds\n"
           "them until standard input closes.\n\n");
    options_print_help(stdout, opts);
    return 0;
  }
  struct swarm s;
  if (swarm_open(&s, argv[next], (size_t)n, "swarm", generation))
    return 1;
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0)
    ;
  swarm_close(&s);
  options_free(opts);
  return 0;
}

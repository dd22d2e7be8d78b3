/*
 * Command-line and JSON config options from one table. A config file's keys are the long
 * option names ("driver-store" or "driver_store"); command-line flags override the file, and a
 * repeatable flag given on the command line replaces the file's list.
 */
#ifndef GPUPV_COMMON_OPTIONS_H
#define GPUPV_COMMON_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

enum opt_kind { OPT_STRING, OPT_LIST, OPT_INT, OPT_FLAG };

struct strlist {
  char **items;
  size_t n;
};

struct opt {
  const char *name; /* long name without "--" */
  char short_name;  /* 0 for none */
  enum opt_kind kind;
  void *target;    /* char **, struct strlist *, long *, or int * */
  const char *arg; /* placeholder in --help, NULL for flags */
  const char *help;
  long min, max; /* bounds for OPT_INT */
};

/*
 * Parses argv[1..] into the table's targets. Stops at the first positional argument when
 * stop_at_positional is set, storing its index in *ret_next (argc when none). On error returns
 * GPUPV_EUSAGE and writes a one-line message into err.
 */
int options_parse(const struct opt *opts, int argc, char **argv, int stop_at_positional,
                  int *ret_next, char *err, size_t err_size);
/* Loads a JSON object of settings into the targets; GPUPV_ECONFIG with a message on error. */
int options_load_config(const struct opt *opts, const char *path, char *err, size_t err_size);
/* Frees every string and list the table's targets hold. */
void options_free(const struct opt *opts);
void options_print_help(FILE *out, const struct opt *opts);
int strlist_add(struct strlist *l, const char *s);
void strlist_free(struct strlist *l);

#endif

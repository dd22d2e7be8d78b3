/*
 * Finding what the host publishes by asking the system, where it can: on Windows the
 * partitionable GPUs' driver packages through SetupAPI and the WSL library folders
 * (discover-win.c); elsewhere nothing is found (discover-posix.c) and the configured folders
 * are the source. discover.c merges what was found into a source_config. Blocking.
 */
#ifndef GPUPV_HOST_DISCOVER_H
#define GPUPV_HOST_DISCOVER_H

#include "common/options.h"
#include "host-agent/inf.h"
#include "host-agent/source.h"

#include <stddef.h>

struct discovery {
  char driver_store[1024]; /* the FileRepository folder holding the packages, or "" */
  struct strlist packages; /* the display drivers' package folder names */
  char lib_inbox[1024];    /* System32\lxss\lib when it exists, or "" */
  char lib_packaged[1024]; /* %ProgramFiles%\WSL\lib when it exists, or "" */
  size_t copy_to_vm;       /* files the drivers' CopyToVm* lists name */
  size_t companions;       /* of packages: software components and extensions (companions.h) */
  struct package_copy_list *lists; /* those lists, per package */
  size_t nlists;
};

/* 1 where this platform can discover sources. */
int discover_available(void);
/* Fills d. Returns 0 when at least one package was found, else an error with why set. */
int discover_sources(struct discovery *d, char *why, size_t why_size);
void discovery_done(struct discovery *d);

/*
 * Runs discovery and points cfg at what it found: its packages, and its library folders where
 * cfg names none. When it finds nothing, cfg keeps the configured folders. note says which
 * happened, in one line.
 */
void discover_into(struct discovery *d, struct source_config *cfg, char *note, size_t note_size);

#endif

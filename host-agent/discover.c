/* Merging what discovery found into the scan's configuration (discover.h). */
#include "host-agent/discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void discovery_done(struct discovery *d) {
  strlist_free(&d->packages);
  for (size_t i = 0; i < d->nlists; i++)
    free(d->lists[i].list);
  free(d->lists);
  memset(d, 0, sizeof *d);
}

void discover_into(struct discovery *d, struct source_config *cfg, char *note, size_t note_size) {
  char why[512] = "";
  memset(d, 0, sizeof *d);
  if (discover_sources(d, why, sizeof why)) {
    snprintf(note, note_size, "discovery found no driver package (%s); %s", why,
             cfg->driver_store || cfg->lib_inbox || cfg->lib_packaged || cfg->wsl_msix
                 ? "publishing the configured folders"
                 : "nothing is configured either");
    return;
  }
  cfg->driver_store = d->driver_store;
  cfg->packages = &d->packages;
  cfg->registry_lists = d->lists;
  cfg->nregistry_lists = d->nlists;
  if (!cfg->lib_inbox && *d->lib_inbox)
    cfg->lib_inbox = d->lib_inbox;
  if (!cfg->lib_packaged && !cfg->wsl_msix && *d->lib_packaged)
    cfg->lib_packaged = d->lib_packaged;
  int n = snprintf(note, note_size, "discovered %zu driver package(s) in %s",
                   d->packages.n - d->companions, d->driver_store);
  if (d->companions && n > 0 && (size_t)n < note_size)
    n += snprintf(note + n, note_size - (size_t)n,
                  " and %zu companion package(s) with their DriverVer", d->companions);
  if (d->copy_to_vm && n > 0 && (size_t)n < note_size)
    snprintf(note + n, note_size - (size_t)n,
             "; their driver keys list %zu file(s) for VMs (CopyToVm), published for Windows "
             "guests",
             d->copy_to_vm);
}

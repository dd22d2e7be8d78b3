/*
 * Companion packages: the software components and extension INFs a GPU vendor ships beside
 * its display driver (AMD's amdocl.inf for OpenCL, amdwin-*.inf), which guests need too. In a
 * DriverStore they are folders of their own whose INF has Class SoftwareComponent or
 * Extension and the display INF's DriverVer version. Blocking (reads the head of each
 * package's INF); platform-neutral, used by Windows discovery.
 */
#ifndef GPUPV_HOST_COMPANIONS_H
#define GPUPV_HOST_COMPANIONS_H

#include "common/options.h"

/* Adds to packages (names of display package folders in driver_store) every companion
 * package folder of theirs not listed yet; returns how many it added. */
size_t companions_add(const char *driver_store, struct strlist *packages);

#endif

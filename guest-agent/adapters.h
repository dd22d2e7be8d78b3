/*
 * What the GPU's driver interface says of each adapter: on Linux through libdxcore.so's
 * D3DKMT calls, loaded from the installed /usr/lib/wsl/lib (adapters-linux.c). For each one
 * its WDDM version (KMTQAITYPE_DRIVERVERSION) and the host driver-store folder its driver
 * expects (KMTQAITYPE_QUERYREGISTRY, D3DDDI_QUERYREGISTRY_DRIVERSTOREPATH), which names the
 * package that must be installed. It loads a library the host published, so the agent runs it
 * in a process of its own (gpupv-guestd --adapters) and reads the JSON it prints.
 */
#ifndef GPUPV_GUEST_ADAPTERS_H
#define GPUPV_GUEST_ADAPTERS_H

#include <cjson/cJSON.h>

#define ADAPTERS_WDDM_MIN 2800 /* WDDM 2.8: older is too old for NVIDIA's CUDA stack */

/*
 * A new object: "adapters", an array of {"luid", "wddm" (or null), "driver_store" (the path as
 * the host gives it, or null), "package" (its last folder, or null), "error" (or null)}, or
 * "error" when the library cannot be used. Never NULL unless out of memory.
 */
cJSON *adapters_query(const char *lib_path);

#endif

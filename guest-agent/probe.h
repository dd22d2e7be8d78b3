/* GPU health probes of the guest. Blocking: run from the thread pool. */
#ifndef GPUPV_GUEST_PROBE_H
#define GPUPV_GUEST_PROBE_H

#include <cjson/cJSON.h>

/*
 * Returns a new object describing the guest's GPU state. On Linux: "dxg" (/dev/dxg exists),
 * "dxgkrnl" (module loaded), "nvidia_smi" (driver version from ROOT/usr/lib/wsl/lib/nvidia-smi
 * or null), "kernel", "os" and "healthy" (dxg and dxgkrnl). Never NULL unless out of memory.
 */
cJSON *probe_gpu(const char *root);
/* The agent's own executable, which the adapters check runs as `EXE --adapters --root ROOT`
 * (it loads the published libdxcore.so in a process of its own). Unset: no adapters check. */
void probe_set_helper(const char *exe);
/* After an install: on Windows a render device stopped with Code 43 is restarted (its result
 * a check of its own in status); elsewhere nothing. */
void probe_after_install(cJSON *status);

#endif

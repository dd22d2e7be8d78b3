/* The CopyToVm lists of an installed driver, read from its registry key (Windows). */
#ifndef GPUPV_HOST_REGISTRY_COPY_WIN_H
#define GPUPV_HOST_REGISTRY_COPY_WIN_H

#include "host-agent/inf.h"

#include <stddef.h>
#include <windows.h>

/*
 * The values of key's CopyToVmOverwrite, CopyToVmWhenNewer, CopyToVmOverwriteWow64 and
 * CopyToVmWhenNewerWow64 subkeys: each (any name) a REG_MULTI_SZ of the source relative to the
 * package folder then the destination name (absent or empty: the source's name), or a REG_SZ
 * of the source only. Other types and sources outside the package are left out. *ret is new
 * (free); at most INF_COPY_MAX entries. 0 or UV_ENOMEM.
 */
int registry_read_copy_to_vm(HKEY key, struct inf_copy **ret, size_t *ret_n);

#endif

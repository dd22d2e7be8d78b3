/*
 * Reads a driver package's INF text (UTF-8/ANSI or UTF-16LE): DriverVer and Provider, and the
 * files the driver declares for VMs in its CopyToVm AddReg lines.
 */
#ifndef GPUPV_HOST_INF_H
#define GPUPV_HOST_INF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fills version (from "DriverVer = date,version") and vendor (Provider, with a %token%
 * resolved through [Strings]); either is left empty when absent. Pure; never fails.
 */
void inf_read_version(const uint8_t *data, size_t len, char *version, size_t version_size,
                      char *vendor, size_t vendor_size);

/* Class and ClassGuid of [Version] (either left empty when absent). Pure; never fails. */
void inf_read_class(const uint8_t *data, size_t len, char *cls, size_t cls_size, char *guid,
                    size_t guid_size);

/* One file of a CopyToVm list: source relative to the package (with '/'), destination name. */
struct inf_copy {
  char source[260];
  char dest[260];
  int wow64;      /* a ...Wow64 list: SysWOW64, else System32 */
  int when_newer; /* CopyToVmWhenNewer*, else CopyToVmOverwrite* */
};

#define INF_COPY_MAX 4096

/* One entry from a source and a destination (NULL or empty: the source's name), as both the
 * INF and the registry give them; UV_EINVAL when the source is not a plain path inside the
 * package (%10%\..., "..", a drive). */
int inf_copy_make(const char *source, const char *dest, int wow64, int when_newer,
                  struct inf_copy *ret);

/*
 * The CopyToVmOverwrite, CopyToVmWhenNewer, CopyToVmOverwriteWow64 and CopyToVmWhenNewerWow64
 * values the INF writes under HKR, in any section: a REG_MULTI_SZ of the source then the
 * destination name (absent or empty: the source's name), a REG_SZ of the source only, and
 * FLG_ADDREG_APPEND lines adding to a value (flags given as numbers or as %TOKEN% from
 * [Strings]). A source that is not a plain path inside the package (%10%\..., "..") is
 * skipped. *ret is new (free); at most INF_COPY_MAX entries. 0 or UV_ENOMEM.
 */
int inf_read_copy_to_vm(const uint8_t *data, size_t len, struct inf_copy **ret, size_t *ret_n);

#endif

/* The version resource of an executable or DLL (VS_FIXEDFILEINFO's file version), for the
 * "when newer" rule of system files. Windows only: elsewhere there is none to read. */
#ifndef GPUPV_COMMON_FILE_VERSION_H
#define GPUPV_COMMON_FILE_VERSION_H

#include <stdint.h>

/* *ret is major.minor.build.private as four 16-bit fields, major highest. UV_ENOENT when the
 * file has no version resource, UV_ENOTSUP where there are none (not Windows). */
int file_version(const char *path, uint64_t *ret);

#endif

/* Reads DriverVer and Provider from a driver package's INF text (UTF-8/ANSI or UTF-16LE). */
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

#endif

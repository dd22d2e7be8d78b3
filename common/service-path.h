/*
 * A service's command line with its program's path quoted. Windows Installer (and Wine's
 * msiexec, seen in the MSI test) may register `C:\Program Files\gpupv\gpupv-hostd.exe --service`
 * unquoted, which Windows would also read as `C:\Program.exe` (the unquoted service path
 * problem); the agents rewrite their own at start (platform-win.c). Pure, for tests.
 */
#ifndef GPUPV_COMMON_SERVICE_PATH_H
#define GPUPV_COMMON_SERVICE_PATH_H

#include <stddef.h>

/* 1 with the quoted command line in out when cmd's program path is unquoted and holds a space;
 * 0 when cmd needs no change (or does not fit in out). */
int service_path_quote(const char *cmd, char *out, size_t out_size);

#endif

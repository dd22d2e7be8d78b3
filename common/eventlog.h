/*
 * The Windows Event Log (eventlog-win.c): "install" registers the program as an event source
 * of the Application log (its message table is linked into the executable, gpupv-events.mc),
 * and a program running as a service sends its warnings and errors there as well as to stderr,
 * so a service that fails says why in Event Viewer.
 */
#ifndef GPUPV_COMMON_EVENTLOG_H
#define GPUPV_COMMON_EVENTLOG_H

#include <stddef.h>

/* HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\<name>, naming this executable
 * as its message file. 0, or an error with err filled. */
int eventlog_register(const char *name, char *err, size_t err_size);
void eventlog_unregister(const char *name);
/* From now on warnings and errors (and the start and stop lines) also go to the Event Log. */
void eventlog_start(const char *name);
void eventlog_stop(void);

#endif

/* Process-wide platform tuning. Implemented per platform (os-linux.c). */
#ifndef GPUPV_COMMON_OS_H
#define GPUPV_COMMON_OS_H

/*
 * Process-wide setup before any thread starts: ignores SIGPIPE (POSIX), keeps the 1 MiB transfer
 * buffers on the heap instead of a fresh mmap each time (a page fault per 4 KiB of every chunk
 * otherwise), and settles the time zone once, so libarchive's tzset() calls on pool threads change
 * nothing.
 */
void os_init_process(void);

#endif

/* Process-wide platform tuning. Implemented per platform (os-linux.c). */
#ifndef GPUPV_COMMON_OS_H
#define GPUPV_COMMON_OS_H

/*
 * Keeps the 1 MiB transfer buffers on the heap instead of a fresh mmap each time, which
 * otherwise costs a page fault per 4 KiB of every chunk.
 */
void os_tune_allocator(void);

#endif

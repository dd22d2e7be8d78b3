/*
 * A test hook in the fs layer: GPUPV_FS_FAULT="OP:N" makes the Nth call of OP fail with EIO
 * (saying "gpupv fs fault: OP call N fails" on stderr), "OP:N:busy" with EBUSY (in use),
 * "OP:N:all" that call and every later one, and "OP:N:kill" ends the process right there, as kill
 * -9 would. Calls are counted from fs_fault_arm, which the guest agent calls once it is ready. OP
 * is write, fsync, rename, link, unlink or mkdir. Without the variable every call goes through; the
 * primitives (fs-posix.c, fs-win.c) ask before each call that writes.
 */
#ifndef GPUPV_COMMON_FS_FAULT_H
#define GPUPV_COMMON_FS_FAULT_H

enum fs_op { FS_OP_WRITE, FS_OP_FSYNC, FS_OP_RENAME, FS_OP_LINK, FS_OP_UNLINK, FS_OP_MKDIR };

/* 0 to go on, or the error to fail this call with. Safe from any thread. */
int fs_fault(enum fs_op op);
/* Starts counting calls: those before it (a process starting up) are never faulted. */
void fs_fault_arm(void);

#endif

/* The end of gpupv-hostd --help, in this platform's words (help-posix.c, help-win.c). */
#ifndef GPUPV_HOST_HELP_H
#define GPUPV_HOST_HELP_H

extern const char hostd_epilog[];

#endif

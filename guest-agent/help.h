/* The end of gpupv-guestd --help, in this platform's words (help-posix.c, help-win.c). */
#ifndef GPUPV_GUEST_HELP_H
#define GPUPV_GUEST_HELP_H

extern const char guestd_epilog[];

#endif

/*
 * A rollback that sticks: `gpupv-guestd --rollback` pins the guest to the generation it went
 * back to (STATE/pin), the guest says so in its hello, and the host pushes it nothing until
 * `gpupv push --force` or `gpupv-guestd --unpin`.
 */
#ifndef GPUPV_GUEST_PIN_H
#define GPUPV_GUEST_PIN_H

#include "common/hash.h"

#include <stdint.h>

/* 1 with ret set when state_dir holds a pin, else 0. */
int pin_read(const char *state_dir, uint8_t ret[HASH_LEN]);
/* Saves the pin durably; 0 or an error. */
int pin_write(const char *state_dir, const uint8_t id[HASH_LEN]);
/* Removes the pin; a missing one is fine. */
int pin_clear(const char *state_dir);

#endif

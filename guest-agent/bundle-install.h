/*
 * `gpupv-guestd --install-bundle FILE`: installs an offline bundle (proto/bundle.h) with the
 * checks, pin and store of a push. The header's signature must verify with the trusted host
 * key (pinned here on first contact, as at a first push), the manifest must hash to the signed
 * generation, every blob entry must be one the manifest lists, of its size, and is hashed as it
 * is written into the object store; content the store already holds is skipped. Only then is
 * the generation built and switched to, atomically (store_install). Blocks.
 */
#ifndef GPUPV_GUEST_BUNDLE_INSTALL_H
#define GPUPV_GUEST_BUNDLE_INSTALL_H

#include "guest-agent/host-key.h"
#include "guest-agent/store.h"

#include <stddef.h>

/* 0 with a summary in note (and what went wrong after the switch in warn), or an error with
 * err naming the problem: the installed generation is then unchanged. */
int bundle_install(const char *path, const struct store *s, struct host_key *trusted, char *err,
                   size_t err_size, char *note, size_t note_size, char *warn, size_t warn_size);

#endif

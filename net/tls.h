/*
 * TLS 1.3 over memory buffers (OpenSSL), for conn.c: the bytes a socket carries go in and out
 * as ciphertext, frames as plaintext. Each side presents a self-signed certificate that holds
 * its Ed25519 key (the host's manifest signing key; the guest's own key). Certificates are not
 * checked against any authority: who the peer is, is its key (tls_session_peer_key), which the
 * host checks against its allowlist and the guest against its pin.
 */
#ifndef GPUPV_NET_TLS_H
#define GPUPV_NET_TLS_H

#include "common/sign.h"

#include <stddef.h>
#include <stdint.h>

enum tls_role { TLS_CLIENT, TLS_SERVER };

struct tls_identity;
struct tls_session;

/* A context presenting key (borrowed only for the call) in a certificate named cn. */
int tls_identity_new(const struct sign_key *key, enum tls_role role, const char *cn,
                     struct tls_identity **ret);
void tls_identity_free(struct tls_identity *id);

int tls_session_new(const struct tls_identity *id, struct tls_session **ret);
void tls_session_free(struct tls_session *s);
/* Ciphertext from the peer. */
int tls_session_feed(struct tls_session *s, const uint8_t *data, size_t len);
/* Moves the handshake on: 1 once it is done, 0 while it needs the peer, or GPUPV_ETLS. */
int tls_session_handshake(struct tls_session *s);
/* Plaintext the peer sent: *ret_n bytes (0 when none is ready yet); GPUPV_ETLS on a broken
 * record, UV_EOF once the peer closed the session. */
int tls_session_read(struct tls_session *s, uint8_t *out, size_t cap, size_t *ret_n);
/* Encrypts len bytes; the records wait in the session until taken. */
int tls_session_write(struct tls_session *s, const uint8_t *data, size_t len);
/* Queues the close alert. */
void tls_session_close_notify(struct tls_session *s);
/* Takes the ciphertext to send: *ret (malloc'd) and *ret_len, or NULL and 0 when none. */
int tls_session_take_output(struct tls_session *s, uint8_t **ret, size_t *ret_len);
/* The peer's Ed25519 key, after the handshake. GPUPV_ETLS when it presented another kind. */
int tls_session_peer_key(const struct tls_session *s, uint8_t ret[SIGN_KEY_LEN]);
/* OpenSSL's reason for the last failure, for log lines (never NULL). */
const char *tls_session_error(const struct tls_session *s);

#endif

/*
 * A raw protocol peer for hostile tests, built on proto/: it reads and writes frames over a
 * socket by hand, so a test can send what the real agents never would.
 */
#ifndef GPUPV_TESTS_PEER_H
#define GPUPV_TESTS_PEER_H

#include "proto/msg.h"
#include "proto/reader.h"

#include <cjson/cJSON.h>
#include <stddef.h>

struct peer {
  int fd;
  struct frame_reader reader;
  cJSON *msg; /* the last control message read */
  enum msg_type type;
  /* the data frames read since the last control message */
  unsigned char *data;
  size_t data_len;
};

/* A listening Unix socket at path. */
int peer_listen_unix(const char *path);
/* Accepts one connection within 30 s (fails the test otherwise). */
void peer_accept(int lfd, struct peer *p);
/* Connects to a Unix socket path; fails the test when it cannot. */
void peer_connect_unix(struct peer *p, const char *path);
/* The next control message (borrowed until the next call), or NULL when the peer closed.
 * Data frames before it are gathered in p->data. Fails the test after 30 s of silence. */
cJSON *peer_recv(struct peer *p, enum msg_type *ret_type);
/* Reads until a message of this type arrives; NULL when the peer closed first. */
cJSON *peer_recv_type(struct peer *p, enum msg_type type);
/* Reads data frames until size bytes are gathered in p->data (after peer_recv). */
void peer_read_data(struct peer *p, size_t size);
/* Gathers whatever data frames have arrived into p->data without waiting. */
void peer_read_data_nowait(struct peer *p);
/* Waits up to timeout_ms for the other side to hang up, reading nothing; 1 when it did. */
int peer_wait_closed(struct peer *p, int timeout_ms);
void peer_send_bytes(struct peer *p, const void *data, size_t len);
/* Sends msg as a control frame and deletes it. */
void peer_send_msg(struct peer *p, cJSON *msg);
void peer_send_data(struct peer *p, const void *data, size_t len);
void peer_close(struct peer *p);
/*
 * Reads until the other side closes; returns the text of the error message it sent (new,
 * caller frees), and its code in ret_code when given (new, or NULL). Fails the test when the
 * other side closed without an error message.
 */
char *peer_expect_refusal(struct peer *p, char **ret_code);

#endif

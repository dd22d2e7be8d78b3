/* Error codes: libuv's negative UV_E* codes plus our own in a range that cannot collide. */
#ifndef GPUPV_COMMON_ERR_H
#define GPUPV_COMMON_ERR_H

#define GPUPV_ERRNO_MAP(X)                                                                         \
  X(PROTO, "protocol error")                                                                       \
  X(MAGIC, "bad frame magic")                                                                      \
  X(VERSION, "unsupported protocol version")                                                       \
  X(FRAME_TYPE, "unknown frame type")                                                              \
  X(TOO_BIG, "frame larger than the limit")                                                        \
  X(JSON, "malformed JSON message")                                                                \
  X(MSG_TYPE, "unknown message type")                                                              \
  X(ORDER, "message out of order")                                                                 \
  X(FIELD, "missing or invalid message field")                                                     \
  X(PATH, "unsafe path")                                                                           \
  X(HASH, "content hash mismatch")                                                                 \
  X(LIMIT, "limit exceeded")                                                                       \
  X(MANIFEST, "invalid manifest")                                                                  \
  X(URI, "invalid address URI")                                                                    \
  X(USAGE, "invalid usage")                                                                        \
  X(CONFIG, "invalid configuration")                                                               \
  X(SIGNATURE, "manifest signature invalid")                                                       \
  X(NOT_CONNECTED, "guest not connected")                                                          \
  X(PUSH_FAILED, "push failed")                                                                    \
  X(CONFLICT, "identity in use by another guest")                                                  \
  X(LINK, "a symbolic link inside the guest's store (.gpupv); refused, remove it")                 \
  X(REBOOT, "a driver switch waits for the next restart; restart the guest first")                 \
  X(MOVED, "the source changed while it was read")                                                 \
  X(TLS, "TLS handshake or record failed")                                                         \
  X(PEER_KEY, "the peer's key is not the one trusted")

enum {
  GPUPV__ERR_BASE = -30000,
#define GPUPV__ERR_ENUM(name, msg) GPUPV_E##name,
  GPUPV_ERRNO_MAP(GPUPV__ERR_ENUM)
#undef GPUPV__ERR_ENUM
      GPUPV__ERR_END
};

/* Returns a static string naming any libuv or gpupv error code. */
const char *gpupv_strerror(int err);

#endif

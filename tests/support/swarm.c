#include "tests/support/swarm.h"

#include "common/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Waits for the first frame header of the answer: a welcome is a control frame. */
static int await_welcome(int fd) {
  uint8_t header[FRAME_HEADER_LEN];
  size_t got = 0;
  while (got < sizeof header) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 30000) != 1)
      return -1;
    ssize_t n = read(fd, header + got, sizeof header - got);
    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  uint32_t len = (uint32_t)header[8] << 24 | (uint32_t)header[9] << 16 | (uint32_t)header[10] << 8 |
                 header[11];
  char body[FRAME_CONTROL_MAX];
  for (got = 0; got < len;) {
    ssize_t n = read(fd, body + got, len - got);
    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  return header[5] == FRAME_CONTROL && memmem(body, len, "\"welcome\"", 9) ? 0 : -1;
}

int swarm_open(struct swarm *s, const char *path, size_t n, const char *prefix,
               const char *generation) {
  s->fds = calloc(n, sizeof *s->fds);
  s->n = 0;
  if (!s->fds)
    return -1;
  for (size_t i = 0; i < n; i++) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
      fprintf(stderr, "swarm: guest %zu cannot connect to %s\n", i, path);
      if (fd >= 0)
        close(fd);
      return -1;
    }
    s->fds[s->n++] = fd;
    char name[64];
    snprintf(name, sizeof name, "%s-%04zu", prefix, i);
    cJSON *hello = msg_new_hello(name, generation);
    /* guests of this release, which take the manifest with its system files */
    cJSON_AddItemToArray(cJSON_AddArrayToObject(hello, "caps"),
                         cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
    cJSON *status = cJSON_AddObjectToObject(hello, "status");
    cJSON_AddBoolToObject(status, "healthy", i % 2 == 0);
    cJSON_AddStringToObject(status, "kernel", "6.1.0-swarm");
    struct buf b;
    buf_init(&b);
    int bad = msg_encode(&b, hello) || send_all(fd, b.data, b.len) || await_welcome(fd);
    buf_done(&b);
    cJSON_Delete(hello);
    if (bad) {
      fprintf(stderr, "swarm: guest %s got no welcome\n", name);
      return -1;
    }
  }
  return 0;
}

void swarm_close(struct swarm *s) {
  for (size_t i = 0; i < s->n; i++)
    close(s->fds[i]);
  free(s->fds);
  s->fds = NULL;
  s->n = 0;
}

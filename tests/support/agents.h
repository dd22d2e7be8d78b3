/* End-to-end helpers: the real agents in the test's folder, talking over Unix sockets. */
#ifndef GPUPV_TESTS_AGENTS_H
#define GPUPV_TESTS_AGENTS_H

#include "tests/support/proc.h"

#include <cjson/cJSON.h>

/* The guest socket and control socket URIs of the test's host agent. */
const char *agents_listen_uri(void);
const char *agents_control_uri(void);
/*
 * Starts gpupv-hostd publishing SRC/store, SRC/inbox and either SRC/packaged or msix (when
 * non-NULL), with --debounce-ms 200, plus extra arguments (NULL-terminated, may be NULL; a
 * later flag wins). Waits for ready.
 */
void agents_start_host(struct proc *p, const char *src, const char *msix, char *const extra[]);
/* The state folder the agents_* helpers give guest name (static until the next call). */
const char *agents_guest_state(const char *name);
/* Starts gpupv-guestd named name installing under root; waits until it has connected. */
void agents_start_guest(struct proc *p, const char *name, const char *root);
/* The same with extra arguments (NULL-terminated, may be NULL). */
void agents_start_guest_with(struct proc *p, const char *name, const char *root,
                             char *const extra[]);
/* Starts a guest without waiting for a connection (the host may be down, or refuse it). */
void agents_spawn_guest(struct proc *p, const char *name, const char *root);
/* The same with extra arguments (NULL-terminated, may be NULL; a later flag wins). */
void agents_spawn_guest_with(struct proc *p, const char *name, const char *root,
                             char *const extra[]);
/* A loopback TCP port nobody listens on now (the kernel's pick, released for the caller). */
int agents_free_port(void);
/* The port of the host's dashboard (a host started with --http 127.0.0.1:0). */
int agents_dashboard_port(void);
/* Asks the host's status until guest name is connected (at most about 30 s of asking). */
void agents_wait_connected(const char *name);
/* Asks the host's status until guest name's boolean key is want_true; 0 after about 30 s. */
int agents_wait_guest(const char *name, const char *key, int want_true);
/* `gpupv status --json`, parsed; caller deletes. */
cJSON *agents_status(void);
/* The guest object of that status by name, or NULL. */
const cJSON *agents_guest(const cJSON *status, const char *name);
/* `gpupv push [--guest NAME] --wait --json`; returns the exit code, result is the last line. */
int agents_push(const char *guest, cJSON **ret_result);
/* `gpupv push --wait` for guest (NULL: all) that must succeed. */
void agents_push_ok(const char *guest);
/* Starts the host on src (extra host arguments may be NULL) and guest "g1" on root, and pushes. */
void agents_start_synced(struct proc *host, struct proc *guest, const char *src, const char *root,
                         char *const host_extra[]);
/* Checks ROOT/usr/lib/wsl against SRC: drivers == store, lib == inbox + packaged (packaged wins)
 * or inbox + the given packaged folder; ld.wsl.conf present. */
void agents_check_installed(const char *root, const char *src);
/* The generation the host publishes, from its status. */
char *agents_host_generation(void);
double agents_num(const cJSON *o, const char *path);
/* Runs argv to completion; out and err are initialised here. */
int agents_run(char *const argv[], struct buf *out, struct buf *err);
/* A one-library inbox: the smallest source a host agent will publish. */
const char *agents_make_inbox(void);
/* argv exits with code and says one line on stderr (code 2), or one error line among its log
 * (other codes), that mentions mention. */
void agents_expect_exit(char *const argv[], int code, const char *mention);
/* The same with exit code 2, a usage error. */
void agents_expect_usage_error(char *const argv[], const char *mention);

#endif

#include "guest-agent/help.h"

const char guestd_epilog[] =
    "\n"
    "Addresses: vsock://2:18256 (the default: the host), unix:PATH,\n"
    "tcp://127.0.0.1:PORT, tls://ADDR:PORT (TLS 1.3: the host must prove the key this\n"
    "guest pins).\n"
    "SIGTERM and SIGINT stop the agent; an install in progress finishes or leaves the\n"
    "old generation in place.\n";

#include "guest-agent/help.h"

const char guestd_epilog[] =
    "\n"
    "Addresses: hvsock://parent:18256 (the default: the Hyper-V host), pipe:NAME,\n"
    "tcp://127.0.0.1:PORT, tls://ADDR:PORT (TLS 1.3: the host must prove the key this\n"
    "guest pins).\n"
    "Root: System32 (%SystemRoot%\\System32); state: %ProgramData%\\gpupv\\guestd.\n"
    "Ctrl-C stops the agent (sc stop gpupv-guestd, the service); an install in\n"
    "progress finishes or leaves the old generation in place.\n"
    "As a service: gpupv-guestd install, then sc start gpupv-guestd.\n";

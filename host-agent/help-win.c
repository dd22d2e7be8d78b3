#include "host-agent/help.h"

const char hostd_epilog[] =
    "\n"
    "Addresses: pipe:NAME (the control default: pipe:gpupv-hostd), hvsock://*:PORT\n"
    "(any VM; or a VM id; the default hvsock://*:18256), tcp://127.0.0.1:PORT,\n"
    "tls://ADDR:PORT (TLS 1.3 across machines; see --allow-guest-keys).\n"
    "State: %ProgramData%\\gpupv\\hostd. With no source given, the GPUs' driver\n"
    "packages and the WSL libraries are found at every scan (--discover).\n"
    "The source's folders are watched: a driver update is published once they have\n"
    "been quiet for --debounce-ms, never while files are still changing.\n"
    "gpupv push rescans at once; Ctrl-C stops the agent (sc stop gpupv-hostd, the\n"
    "service).\n"
    "Example, as a service:\n"
    "  gpupv-hostd install --config %ProgramData%\\gpupv\\hostd.json\n"
    "  sc start gpupv-hostd\n";

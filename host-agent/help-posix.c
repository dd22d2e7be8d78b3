#include "host-agent/help.h"

const char hostd_epilog[] =
    "\n"
    "Addresses: unix:PATH, tcp://127.0.0.1:PORT (loopback only), vsock://any:PORT,\n"
    "tls://ADDR:PORT (TLS 1.3 across machines; guests prove their keys, see\n"
    "--allow-guest-keys).\n"
    "The source's folders are watched: a driver update is published once they have\n"
    "been quiet for --debounce-ms, never while files are still changing.\n"
    "SIGHUP rescans the source; SIGTERM and SIGINT (Ctrl-C) stop the agent.\n"
    "Example:\n"
    "  gpupv-hostd --driver-store /srv/FileRepository --lib-inbox /srv/lxss/lib \\\n"
    "              --wsl-msix /srv/Microsoft.WSL.msixbundle \\\n"
    "              --listen vsock://any:18256\n";

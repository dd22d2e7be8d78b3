#include "common/os.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

void os_init_process(void) {
  /* Files the C runtime opens are binary: a text-mode descriptor would rewrite "\n". */
  _fmode = _O_BINARY;
  /* Log lines and the CLI print UTF-8. */
  SetConsoleOutputCP(CP_UTF8);
  /* No "program stopped working" dialog for a service or a test run under Wine. */
  SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
}

/* The service program path quoting (common/service-path.c). */
#include "common/service-path.h"
#include "tests/support/test.h"

TEST(unit_service_path_quotes_an_unquoted_program_with_spaces) {
  char out[512];
  CHECK(service_path_quote("C:\\Program Files\\gpupv\\gpupv-guestd.exe --service --config "
                           "\"C:\\ProgramData\\gpupv\\guestd.json\"",
                           out, sizeof out) == 1);
  CHECK_EQ_STR(out, "\"C:\\Program Files\\gpupv\\gpupv-guestd.exe\" --service --config "
                    "\"C:\\ProgramData\\gpupv\\guestd.json\"");
  CHECK(service_path_quote("C:\\Program Files\\gpupv\\GPUPV-HOSTD.EXE", out, sizeof out) == 1);
  CHECK_EQ_STR(out, "\"C:\\Program Files\\gpupv\\GPUPV-HOSTD.EXE\"");
  /* already quoted, no space in the program's path, no .exe: left as it is */
  CHECK(service_path_quote("\"C:\\Program Files\\gpupv\\gpupv-hostd.exe\" --service", out,
                           sizeof out) == 0);
  CHECK(service_path_quote("C:\\gpupv\\gpupv-hostd.exe --service --config \"C:\\a b\\c.json\"", out,
                           sizeof out) == 0);
  CHECK(service_path_quote("C:\\Program Files\\x --service", out, sizeof out) == 0);
  /* a name that only starts like .exe is not the end of the program */
  CHECK(service_path_quote("C:\\My Tools\\a.exec\\b.exe -x", out, sizeof out) == 1);
  CHECK_EQ_STR(out, "\"C:\\My Tools\\a.exec\\b.exe\" -x");
  /* too long for out: no change rather than a cut command line */
  CHECK(service_path_quote("C:\\Program Files\\gpupv\\gpupv-hostd.exe", out, 10) == 0);
}

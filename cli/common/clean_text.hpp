#pragma once
// ltest's own lines (errors, warnings, status) quote text a server, a kernel
// or a file gave us. Printed raw, that text could drive the terminal: set its
// title (ESC ] 0;...), clear it (ESC [ 2J), hide what follows. So before it
// reaches a terminal it loses every control character and escape sequence.
// Test output is not cleaned: it is the tests' own, colours included.
#include <string>

namespace ltest {

// `text` without C0/C1 control characters, DEL, and ANSI escape sequences
// (CSI, OSC, DCS/PM/APC strings, two-byte ESC sequences); newlines and tabs
// become spaces, so that the result is one line. Other UTF-8 is kept.
std::string clean_text(const std::string& text);

}  // namespace ltest

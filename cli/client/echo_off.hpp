#pragma once
// The terminal's echo, off while the user types a password (getpass() in a
// test), restored when the line is in or the client leaves.
#include <termios.h>

namespace ltest {

class echo_off {
public:
    explicit echo_off(int fd);  // no-op unless fd is a terminal
    ~echo_off();
    echo_off(const echo_off&) = delete;
    echo_off& operator=(const echo_off&) = delete;

private:
    int fd_;
    bool active_ = false;
    termios saved_{};
};

}  // namespace ltest

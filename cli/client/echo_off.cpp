#include "echo_off.hpp"

#include <unistd.h>

namespace ltest {

echo_off::echo_off(int fd) : fd_(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);  // ICANON stays: the line is still edited as usual
    active_ = ::tcsetattr(fd, TCSANOW, &quiet) == 0;  // NOW, not FLUSH: lines typed ahead stay
}

echo_off::~echo_off() {
    if (!active_) return;
    ::tcsetattr(fd_, TCSANOW, &saved_);
    // The newline the user typed was not echoed: end the prompt's line, as getpass does.
    (void)!::write(STDOUT_FILENO, "\n", 1);
}

}  // namespace ltest

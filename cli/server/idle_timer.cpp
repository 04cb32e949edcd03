#include "idle_timer.hpp"

namespace ltest {
using namespace std::chrono;

idle_timer::idle_timer(std::optional<double> seconds) {
    if (seconds && *seconds > 0) limit_ = seconds;
}

void idle_timer::touch() { last_ = steady_clock::now(); }

bool idle_timer::expired(bool busy) {
    if (busy) touch();
    return limit_ && steady_clock::now() - last_ > duration<double>(*limit_);
}

}  // namespace ltest

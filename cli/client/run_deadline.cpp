#include "run_deadline.hpp"

namespace ltest {
using namespace std::chrono;

static steady_clock::duration over(double timeout_s, steady_clock::duration elapsed) {
    return elapsed - duration_cast<steady_clock::duration>(duration<double>(timeout_s));
}

int run_deadline::interrupts_due(steady_clock::duration elapsed) const {
    if (timeout_s <= 0 || over(timeout_s, elapsed) < steady_clock::duration::zero()) return 0;
    return over(timeout_s, elapsed) < kill_grace ? 1 : 2;
}

bool run_deadline::give_up(steady_clock::duration elapsed) const {
    return timeout_s > 0 && over(timeout_s, elapsed) >= kill_grace + give_up_grace;
}

}  // namespace ltest

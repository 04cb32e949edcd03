#pragma once
// What `--timeout T` asks of the client, as a pure function of the time
// since the run was requested: at T interrupt the run (pytest stops as on
// Ctrl-C), at T + kill_grace send the second interrupt (the test process is
// killed), and at T + kill_grace + give_up_grace, if the server has still not
// answered (a stopped kernel or server), give up: exit_code::timed_out.
// The client's whole wait is so bounded whatever the server or kernel does.
#include <chrono>

namespace ltest {

struct run_deadline {
    static constexpr std::chrono::milliseconds kill_grace{3000};
    static constexpr std::chrono::milliseconds give_up_grace{2500};

    double timeout_s = 0;  // --timeout; 0: none

    // How many interrupts the client should have sent by `elapsed`: 0, 1 or 2.
    int interrupts_due(std::chrono::steady_clock::duration elapsed) const;
    bool give_up(std::chrono::steady_clock::duration elapsed) const;
};

}  // namespace ltest

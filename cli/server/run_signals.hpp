#pragma once
// Ctrl-C for a run's processes, as a terminal gives it to its foreground
// process group, with one difference: the test process's own SIGINT is
// sent to its main thread. A signal sent to a process may be delivered to
// any of its threads (a plugin's server thread, a thread pool), and CPython
// then only sets a flag: a main thread asleep in time.sleep() or blocked in
// a read would not notice until it wakes, and the run would not stop.
#include <sys/types.h>

namespace ltest {

// SIGINT to the main thread of `leader` and to every other process in its
// process group (the processes its tests started).
void interrupt_run_group(pid_t leader);

}  // namespace ltest

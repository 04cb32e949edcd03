#pragma once
// ltest's own exit codes. pytest's 0-5 pass through unchanged and a test
// process killed by signal N gives 128+N; ltest's failures use the BSD
// sysexits range (64-78), outside both. Documented in README.md.
namespace ltest::exit_code {

inline constexpr int pytest_interrupted = 2;  // pytest's own: the run was interrupted (Ctrl-C)
inline constexpr int usage = 64;         // bad ltest flags or configuration
inline constexpr int no_server = 69;     // no server running / not answering
inline constexpr int internal = 70;      // ltest's runtime failed inside the kernel
inline constexpr int kernel_died = 75;   // the kernel died during the run (it is restarted)
inline constexpr int protocol = 76;      // a malformed or unauthenticated reply
inline constexpr int startup = 78;       // kernelspec missing, kernel or preload failed at start
inline constexpr int timed_out = 124;    // --timeout passed and the server never answered (as timeout(1))
inline constexpr int interrupted = 130;  // the server got Ctrl-C (SIGINT/SIGTERM/SIGHUP) while starting

}  // namespace ltest::exit_code

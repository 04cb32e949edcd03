#pragma once
// One small hierarchy for real failures; "nothing yet" is std::optional.
#include <stdexcept>
#include <string>

namespace kernel_bridge {

struct bridge_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A kernelspec that does not exist, or that cannot start a kernel.
struct no_such_kernel : bridge_error {
    using bridge_error::bridge_error;
};

// A connection or kernel.json file that is missing or malformed.
struct bad_file : bridge_error {
    using bridge_error::bridge_error;
};

// A wire message that is malformed or wrongly signed.
struct bad_message : bridge_error {
    using bridge_error::bridge_error;
};

// The kernel process exited or stopped answering its heartbeat.
struct kernel_died : bridge_error {
    using bridge_error::bridge_error;
};

struct timeout_error : bridge_error {
    using bridge_error::bridge_error;
};

}  // namespace kernel_bridge

// The error types are header-only; this unit keeps the library's file list stable.
#include "kernel_bridge/errors.hpp"

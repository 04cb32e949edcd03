#pragma once
#include "options.hpp"

namespace ltest {

int show_status(const options& opts);  // `ltest --status [--json]`
int stop_server(const options& opts);  // `ltest --stop`

}  // namespace ltest

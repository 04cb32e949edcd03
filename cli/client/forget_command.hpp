#pragma once
// `ltest --forget`: removes what test runs taught about this project's slow
// imports (the learned-preloads files of its project root, every interpreter).
#include "options.hpp"

namespace ltest {

int forget_learned_preloads(const options& o);

}  // namespace ltest

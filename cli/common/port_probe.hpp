#pragma once
// Whether something accepts TCP connections at ip:port: what tells "no
// server" from "a server whose runtime file is lost" (find_server).
#include <chrono>
#include <string>

namespace ltest {

bool port_answers(const std::string& ip, int port, std::chrono::milliseconds timeout);

}  // namespace ltest

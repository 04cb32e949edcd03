#pragma once
// Jupyter Enterprise Gateway's REST API (the part of jupyter_server's it
// serves): kernelspecs, kernels (create, get, delete, interrupt). Plain HTTP
// over Boost.Beast, each request bounded by a deadline. The token goes in the
// Authorization header and never into an error text.
#include <chrono>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge::gateway {

// The gateway refused, or could not be reached: what() is one line for a user.
struct gateway_error : bridge_error {
    gateway_error(const std::string& what, int status = 0) : bridge_error(what), status(status) {}
    int status;  // the HTTP status, 0 when there was no answer
};

// "http://host:port/base": https is refused (gateway_error) until TLS is wired.
struct endpoint {
    std::string host;
    std::string port = "80";
    std::string base;  // "" or "/prefix", no trailing slash
    std::string url() const { return "http://" + host + ":" + port + base; }
};
endpoint parse_url(const std::string& url);

struct http_response {
    int status = 0;
    std::string reason;
    std::string body;
};

class rest_client {
public:
    rest_client(endpoint ep, std::string token, std::chrono::milliseconds timeout = std::chrono::seconds(60));

    const endpoint& where() const { return ep_; }
    // One request; throws gateway_error when there is no answer in time.
    http_response request(const std::string& method, const std::string& path, const std::string& body = "");

    nlohmann::json kernelspecs();                          // GET /api/kernelspecs
    nlohmann::json kernels();                              // GET /api/kernels
    // POST /api/kernels: the new kernel's model ({"id", "name", ...}); env
    // reaches the kernel as EG passes KERNEL_* variables (and those it allows).
    nlohmann::json start_kernel(const std::string& name, const std::map<std::string, std::string>& env = {});
    nlohmann::json kernel(const std::string& id);           // GET /api/kernels/ID
    void interrupt_kernel(const std::string& id);           // POST /api/kernels/ID/interrupt
    void delete_kernel(const std::string& id);              // DELETE /api/kernels/ID (404 is no error)

    const std::string& token() const { return token_; }

private:
    // The answer's JSON when its status is 2xx, else gateway_error with the gateway's reason.
    nlohmann::json expect_json(const http_response& r, const std::string& what);

    endpoint ep_;
    std::string token_;
    std::chrono::milliseconds timeout_;
};

// One line for a refusal: "the gateway at URL refused to start a kernel: 403
// Resource Limit (...)", with what to do for 401/403.
std::string refusal_line(const endpoint& ep, const std::string& what, const http_response& r);

}  // namespace kernel_bridge::gateway

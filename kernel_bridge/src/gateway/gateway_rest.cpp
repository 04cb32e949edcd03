#include "kernel_bridge/gateway/gateway_rest.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kernel_bridge::gateway {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

endpoint parse_url(const std::string& url) {
    const std::string http_scheme = "http://";
    if (url.rfind("https://", 0) == 0)
        throw gateway_error("gateway " + url + ": https is not supported yet; reach it over http (an SSH tunnel to its port)");
    std::string rest = url.rfind(http_scheme, 0) == 0 ? url.substr(http_scheme.size()) : url;
    if (rest.find("://") != std::string::npos) throw gateway_error("gateway " + url + ": not an http:// URL");
    endpoint ep;
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    if (slash != std::string::npos) ep.base = rest.substr(slash);
    while (!ep.base.empty() && ep.base.back() == '/') ep.base.pop_back();
    if (!hostport.empty() && hostport.front() == '[') {  // [v6]:port
        auto close = hostport.find(']');
        if (close == std::string::npos) throw gateway_error("gateway " + url + ": unclosed [ in the host");
        ep.host = hostport.substr(1, close - 1);
        if (close + 1 < hostport.size() && hostport[close + 1] == ':') ep.port = hostport.substr(close + 2);
    } else {
        auto colon = hostport.rfind(':');
        ep.host = hostport.substr(0, colon);
        if (colon != std::string::npos) ep.port = hostport.substr(colon + 1);
    }
    if (ep.host.empty()) throw gateway_error("gateway " + url + ": no host");
    if (ep.port.empty() || ep.port.find_first_not_of("0123456789") != std::string::npos)
        throw gateway_error("gateway " + url + ": the port is not a number");
    return ep;
}

rest_client::rest_client(endpoint ep, std::string token, std::chrono::milliseconds timeout)
    : ep_(std::move(ep)), token_(std::move(token)), timeout_(timeout) {}

http_response rest_client::request(const std::string& method, const std::string& path, const std::string& body) {
    // Asynchronous operations on one io_context, so that one deadline bounds
    // resolving, connecting, writing and reading (Beast's timeouts apply to
    // asynchronous operations only).
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    http::request<http::string_body> req{http::string_to_verb(method), ep_.base + path, 11};
    req.set(http::field::host, ep_.host);
    req.set(http::field::user_agent, "ltest");
    req.set(http::field::accept, "application/json");
    if (!token_.empty()) req.set(http::field::authorization, "token " + token_);
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    beast::error_code failed;
    const char* stage = "resolve";
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    stream.expires_at(deadline);
    resolver.async_resolve(ep_.host, ep_.port, [&](beast::error_code ec, tcp::resolver::results_type hosts) {
        if (ec) return void(failed = ec);
        stage = "connect to";
        stream.async_connect(hosts, [&](beast::error_code ec, const tcp::endpoint&) {
            if (ec) return void(failed = ec);
            stage = "send to";
            http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                if (ec) return void(failed = ec);
                stage = "read from";
                http::async_read(stream, buffer, res, [&](beast::error_code ec, std::size_t) { failed = ec; });
            });
        });
    });
    ioc.run_until(deadline + std::chrono::seconds(1));  // the stream's own expiry ends it first
    if (!ioc.stopped() && !failed) failed = beast::error::timeout;
    if (failed) {
        std::string why = failed == beast::error::timeout ? std::string("no answer in time") : failed.message();
        throw gateway_error("cannot " + std::string(stage) + " the gateway at " + ep_.url() + ": " + why);
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return http_response{static_cast<int>(res.result_int()), std::string(res.reason()), res.body()};
}

std::string refusal_line(const endpoint& ep, const std::string& what, const http_response& r) {
    std::string reason = r.reason;
    try {  // jupyter_server's JSON errors: {"message", "reason"}
        json body = json::parse(r.body);
        std::string message = body.value("message", std::string());
        if (body.contains("reason") && body["reason"].is_string()) reason = body["reason"].get<std::string>();
        if (!message.empty() && message != reason) reason += ": " + message;
    } catch (const json::exception&) {
    }
    for (auto& c : reason)
        if (c == '\n' || c == '\r') c = ' ';
    std::string line = "the gateway at " + ep.url() + " refused to " + what + ": " + std::to_string(r.status) + " " + reason;
    if (r.status == 401)
        line += " (its token: set LTEST_GATEWAY_TOKEN or JUPYTER_GATEWAY_AUTH_TOKEN, or [tool.ltest] gateway_token_file)";
    return line;
}

json rest_client::expect_json(const http_response& r, const std::string& what) {
    if (r.status < 200 || r.status >= 300) throw gateway_error(refusal_line(ep_, what, r), r.status);
    if (r.body.empty()) return json();
    try {
        return json::parse(r.body);
    } catch (const json::exception&) {
        throw gateway_error("the gateway at " + ep_.url() + " answered " + what + " with something that is not JSON");
    }
}

json rest_client::kernelspecs() { return expect_json(request("GET", "/api/kernelspecs"), "list its kernelspecs"); }

json rest_client::kernels() { return expect_json(request("GET", "/api/kernels"), "list its kernels"); }

json rest_client::start_kernel(const std::string& name, const std::map<std::string, std::string>& env) {
    json body{{"name", name}};
    if (!env.empty()) body["env"] = env;
    json model = expect_json(request("POST", "/api/kernels", body.dump()), "start a kernel '" + name + "'");
    if (!model.is_object() || !model.contains("id") || !model["id"].is_string())
        throw gateway_error("the gateway at " + ep_.url() + " started a kernel without saying its id");
    return model;
}

json rest_client::kernel(const std::string& id) { return expect_json(request("GET", "/api/kernels/" + id), "describe kernel " + id); }

void rest_client::interrupt_kernel(const std::string& id) {
    expect_json(request("POST", "/api/kernels/" + id + "/interrupt"), "interrupt kernel " + id);
}

void rest_client::delete_kernel(const std::string& id) {
    http_response r = request("DELETE", "/api/kernels/" + id);
    if (r.status == 404) return;  // gone already
    expect_json(r, "shut down kernel " + id);
}

}  // namespace kernel_bridge::gateway

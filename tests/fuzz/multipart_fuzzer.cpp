// libFuzzer target: sequences of ZeroMQ frames with any flags, sizes and
// order (ZMTP 3.0 framing: a flags byte with MORE, LONG and COMMAND, a 1- or
// 8-byte size, the body), as a peer can send them, to both of ltest's
// readers of frames.
//
// Input layout: byte 0 selects the reader, the rest is the raw byte stream
// of frames that follows the handshake.
//   mode & 0x80 == 0  "server": the stream goes, over a real TCP connection,
//       to a real libzmq ROUTER set up as the server sets its own
//       (server.cpp's bind: ZMQ_MAXMSGSIZE, apply_router_limits, the
//       connect_gate as ZAP handler), after an opening chosen by
//       mode % 3: PLAIN with the key's password, PLAIN with a wrong one,
//       NULL. Contract (anything else aborts, a crash for libFuzzer):
//         * without the key's password no message is ever delivered: a
//           stranger's frames, whatever their flags, are not read;
//         * with it, the messages delivered are, in order, those the stream
//           holds, up to the first frame libzmq may treat its own way (a
//           command, reserved flags, a frame over ZMQ_MAXMSGSIZE), and no
//           frame delivered is over ZMQ_MAXMSGSIZE;
//         * what the server does with each (wire::deserialize) throws only
//           kernel_bridge::bad_message, as wire_fuzzer checks in depth;
//         * the connection ends (libzmq closes or sees EOF) within 10 s.
//   mode & 0x80 == 0x80  "client": the stream goes to the client's
//       zmtp::message_assembler (cli/client/zmtp_dealer.hpp) with a small
//       bound, in reads of 1, 7, 64 bytes or all at once (mode's low bits).
//       Contract: only ltest_error(protocol) escapes; what it holds never
//       exceeds the bound (each frame counted with its overhead: a
//       never-ending message of empty frames is refused, not held); the
//       messages it gives are exactly those an independent reading of the
//       stream finds, however the reads cut it.
// The seeds (corpus-multipart/, made by make_corpus.py) are such streams:
// never-ending messages of empty frames, a long frame, commands between and
// inside messages, signed ltest messages, frames just over the bounds.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/wire.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "connect_gate.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"
#include "router_limits.hpp"
#include "zmtp_dealer.hpp"

namespace kb = kernel_bridge;
namespace zmtp = ltest::zmtp;

namespace {

// The same key as wire_fuzzer's and make_corpus.py's.
const std::string fuzz_key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
constexpr std::size_t client_bound = 4096;  // small, so that the fuzzer reaches it

[[noreturn]] void contract_broken(const char* where, const std::string& what) {
    std::fprintf(stderr, "\nmultipart_fuzzer: contract broken in %s: %s\n", where, what.c_str());
    std::abort();
}

// One frame as ZMTP 3.0 frames it; nullopt when the stream ends first.
struct raw_frame {
    unsigned char flags;
    std::uint64_t size;
    std::string body;
};

std::optional<raw_frame> next_frame(const std::string& s, std::size_t& at) {
    if (s.size() - at < 2) return std::nullopt;
    raw_frame f{static_cast<unsigned char>(s[at]), static_cast<unsigned char>(s[at + 1]), {}};
    std::size_t header = 2;
    if (f.flags & 0x02) {
        if (s.size() - at < 9) return std::nullopt;
        header = 9;
        f.size = 0;
        for (std::size_t i = 1; i < 9; ++i) f.size = (f.size << 8) | static_cast<unsigned char>(s[at + i]);
    }
    if (f.size > s.size() - at - header) return std::nullopt;
    f.body = s.substr(at + header, f.size);
    at += header + f.size;
    return f;
}

// ---- client: zmtp::message_assembler --------------------------------------

// The client's rules, read independently: reserved flags or a frame or a
// message over the bound end the stream (an error); commands are no part of
// a message. `error` says whether the stream ends in such an error.
std::vector<std::vector<std::string>> client_reading(const std::string& s, bool& error) {
    std::vector<std::vector<std::string>> out;
    std::vector<std::string> partial;
    std::size_t held = 0, at = 0;
    error = false;
    while (s.size() - at >= 2) {
        auto flags = static_cast<unsigned char>(s[at]);
        if (flags & ~0x07u) {
            error = true;
            break;
        }
        if ((flags & 0x02) && s.size() - at >= 9) {
            std::uint64_t size = 0;
            for (std::size_t i = 1; i < 9; ++i) size = (size << 8) | static_cast<unsigned char>(s[at + i]);
            if (size > client_bound) {
                error = true;
                break;
            }
        }
        auto f = next_frame(s, at);
        if (!f) break;
        if (f->flags & 0x04) continue;
        if (f->body.size() + zmtp::frame_overhead > client_bound - held) {
            error = true;
            break;
        }
        held += f->body.size() + zmtp::frame_overhead;
        partial.push_back(f->body);
        if (!(f->flags & 0x01)) {
            out.push_back(std::move(partial));
            partial.clear();
            held = 0;
        }
    }
    return out;
}

void fuzz_client(unsigned char mode, const std::string& stream) {
    static const std::size_t steps[] = {1, 7, 64, std::string::npos};
    std::size_t step = steps[mode & 3];
    bool expect_error = false;
    auto expected = client_reading(stream, expect_error);
    zmtp::message_assembler messages(client_bound);
    std::vector<std::vector<std::string>> got;
    std::string buffer;
    bool error = false;
    try {
        for (std::size_t at = 0; at < stream.size(); at += step) {
            buffer += stream.substr(at, step);
            while (auto m = messages.take(buffer, [](const std::string&) {})) got.push_back(std::move(*m));
            if (messages.held_bytes() > client_bound) contract_broken("message_assembler", "holds more than its bound");
        }
    } catch (const ltest::ltest_error& e) {
        if (e.exit_code != ltest::exit_code::protocol) contract_broken("message_assembler", "not a protocol error");
        error = true;
    } catch (const std::exception& e) {
        contract_broken("message_assembler", std::string("threw something else than ltest_error: ") + e.what());
    }
    if (got != expected) contract_broken("message_assembler", "gave other messages than the stream holds");
    if (error != expect_error) contract_broken("message_assembler", error ? "refused a stream within its bounds"
                                                                         : "took a stream beyond its bounds");
}

// ---- server: a real ROUTER behind the connect gate -------------------------

struct server_side {
    zmq::context_t ctx;
    ltest::connect_gate gate{ctx, ltest::protocol::connect_password("hmac-sha256", fuzz_key)};
    zmq::socket_t router{ctx, zmq::socket_type::router};
    zmq::socket_t monitor{ctx, zmq::socket_type::pair};
    kb::wire wire{"hmac-sha256", fuzz_key};
    int port = 0;

    server_side() {
        // As server::bind sets the server's ROUTER.
        router.set(zmq::sockopt::linger, 0);
        router.set(zmq::sockopt::maxmsgsize, ltest::protocol::max_message_bytes);
        router.set(zmq::sockopt::router_mandatory, true);
        router.set(zmq::sockopt::sndhwm, 32);
        ltest::apply_router_limits(router, "127.0.0.1");
        ltest::connect_gate::guard(router);
        if (zmq_socket_monitor(router.handle(), "inproc://multipart-fuzzer-monitor", ZMQ_EVENT_DISCONNECTED) != 0)
            contract_broken("setup", "no socket monitor");
        monitor.connect("inproc://multipart-fuzzer-monitor");
        router.bind("tcp://127.0.0.1:0");
        std::string endpoint = router.get(zmq::sockopt::last_endpoint);
        port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
    }
};

server_side& server() {
    static server_side* s = new server_side();  // never destroyed: libFuzzer exits without unwinding
    return *s;
}

// A ZMTP property (name, value) as READY and INITIATE carry them.
std::string property(const std::string& name, const std::string& value) {
    std::string out(1, static_cast<char>(name.size()));
    out += name;
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value.size() >> shift) & 0xff);
    return out + value;
}

// The handshake: the peer names itself (Identity), so that the ROUTER's
// routing id says which connection a message came from. PLAIN: the HELLO
// first (the INITIATE follows the server's WELCOME: send_opening), NULL: all.
std::string props_of(const std::string& identity) {
    return property("Socket-Type", "DEALER") + property("Identity", identity);
}

std::string hello(unsigned char mode, const std::string& identity) {
    switch (mode % 3) {
        case 0:
            return zmtp::greeting("PLAIN") + zmtp::hello_command(ltest::protocol::connect_username,
                                                                 ltest::protocol::connect_password("hmac-sha256", fuzz_key));
        case 1:
            return zmtp::greeting("PLAIN") + zmtp::hello_command(ltest::protocol::connect_username, std::string(64, '0'));
        default:
            return zmtp::greeting("NULL") + zmtp::command("READY", props_of(identity));
    }
}

void send_all(int fd, const std::string& bytes) {
    for (std::size_t at = 0; at < bytes.size();) {
        ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;  // libFuzzer's SIGALRM (-timeout) has no SA_RESTART
        if (n <= 0) return;  // closed on us: a refusal
        at += static_cast<std::size_t>(n);
    }
}

// Reads the server's greeting and its first command (WELCOME, or ERROR);
// true for WELCOME. A stranger sends on either way.
bool welcomed(int fd) {
    std::string in;
    char buf[512];
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (true) {
        if (in.size() >= 64) {
            std::string rest = in.substr(64);
            try {
                if (auto f = zmtp::take_frame(rest, 1 << 16)) return f->command && zmtp::command_name(f->body) == "WELCOME";
            } catch (const ltest::ltest_error&) {
                return false;
            }
        }
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;  // libFuzzer's SIGALRM: seen as "refused the key's password"
        if (n <= 0) return false;
        in.append(buf, static_cast<std::size_t>(n));
    }
}

int connect_to(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) contract_broken("setup", "connect");
    int one = 1;  // each write goes at once (Nagle would hold the stream for the INITIATE's ACK)
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// The messages the stream holds as libzmq delivers them, up to the first
// frame it may treat its own way.
std::vector<std::vector<std::string>> server_reading(const std::string& s) {
    std::vector<std::vector<std::string>> out;
    std::vector<std::string> partial;
    std::size_t at = 0;
    while (auto f = next_frame(s, at)) {
        if ((f->flags & ~0x03u) || f->size > static_cast<std::uint64_t>(ltest::protocol::max_message_bytes) ||
            ((f->flags & 0x02) && f->size < 256))
            break;
        partial.push_back(f->body);
        if (!(f->flags & 0x01)) {
            out.push_back(std::move(partial));
            partial.clear();
        }
    }
    return out;
}

void fuzz_server(unsigned char mode, const std::string& stream) {
    static std::uint64_t connections = 0;
    static std::set<std::string> key_holders;  // the identities of connections that held the key
    server_side& s = server();
    const bool holds_key = mode % 3 == 0;
    std::string identity = "fuzz-" + std::to_string(++connections);
    if (holds_key) key_holders.insert(identity);
    auto started = std::chrono::steady_clock::now();
    int fd = connect_to(s.port);
    send_all(fd, hello(mode, identity));
    if (mode % 3 != 2) {
        bool welcome = welcomed(fd);
        if (welcome != holds_key) contract_broken("connect_gate", holds_key ? "refused the key's password" : "welcomed a wrong password");
        send_all(fd, zmtp::command("INITIATE", props_of(identity)));
    }
    send_all(fd, stream);
    ::shutdown(fd, SHUT_WR);  // the end of the stream: libzmq sees EOF and closes
    std::vector<std::vector<std::string>> got;
    auto take = [&] {
        zmq::multipart_t m;
        while (m.recv(s.router, ZMQ_DONTWAIT)) {
            std::vector<std::string> frames;
            for (auto& part : m) frames.push_back(part.to_string());
            m.clear();
            if (frames.empty()) contract_broken("ROUTER", "a message without a routing id");
            if (!key_holders.count(frames.front()))
                contract_broken("connect_gate", "a message was delivered from a peer without the key's password");
            if (frames.front() != identity) continue;  // a late one of an earlier connection that held the key
            frames.erase(frames.begin());
            got.push_back(std::move(frames));
        }
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (bool disconnected = false; !disconnected;) {
        take();
        zmq::pollitem_t items[] = {{s.router.handle(), 0, ZMQ_POLLIN, 0}, {s.monitor.handle(), 0, ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, 2, std::chrono::milliseconds(100));
            if (items[1].revents & ZMQ_POLLIN) {
                zmq::multipart_t event;
                event.recv(s.monitor);  // [event id + value, endpoint]: only DISCONNECTED is asked for
                disconnected = true;
            }
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;  // libFuzzer's SIGALRM: poll again
        }
        if (std::chrono::steady_clock::now() > deadline) contract_broken("ROUTER", "the connection did not end in 10 s");
    }
    take();  // what was read before the end
    ::close(fd);
    auto expected = server_reading(stream);
    static const bool verbose = std::getenv("MULTIPART_FUZZER_VERBOSE") != nullptr;  // what a seed reaches
    if (verbose)
        std::fprintf(stderr, "opening %d: %zu message(s) delivered, %zu in the stream, %.1f ms\n", mode % 3, got.size(),
                     expected.size(), std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    for (std::size_t i = 0; i < got.size(); ++i) {
        for (const auto& frame : got[i])
            if (frame.size() > static_cast<std::size_t>(ltest::protocol::max_message_bytes))
                contract_broken("ROUTER", "a frame over ZMQ_MAXMSGSIZE was delivered");
        if (i < expected.size() && got[i] != expected[i])
            contract_broken("ROUTER", "message " + std::to_string(i) + " is not the stream's");
        try {
            (void)s.wire.deserialize(got[i]);  // drain_clients
        } catch (const kb::bad_message&) {
        } catch (const std::exception& e) {
            contract_broken("wire::deserialize", std::string("threw something else than bad_message: ") + e.what());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 0x80)
        fuzz_client(data[0], stream);
    else
        fuzz_server(data[0], stream);
    return 0;
}

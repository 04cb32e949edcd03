#pragma once
// The client's side of one ZeroMQ connection, without libzmq: a DEALER
// socket speaking ZMTP 3.0 (rfc.zeromq.org/spec/23) with the NULL mechanism
// over one TCP connection to the server's ROUTER.
//
// Why not libzmq: the client is a short-lived process and a status round
// trip is mostly its start-up; libzmq pulls in libstdc++, Kerberos, PGM and
// NORM (about 20 shared libraries to load and relocate). Without it the
// client links statically and starts in a fraction of the time (bench/).
// The server keeps libzmq. What this class does not need, it does not do:
// one peer, no reconnection (a server that goes away ends the client), no
// security mechanism other than NULL and PLAIN (the server reads messages only
// from a peer whose PLAIN password proves it holds the key: server/connect_gate.hpp;
// the messages themselves are signed with HMAC above).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ltest {

// Encoding and decoding of ZMTP 3.0, apart from the socket (unit-tested).
namespace zmtp {

// The 64-byte greeting of a client with this mechanism ("NULL" or "PLAIN").
std::string greeting(const std::string& mechanism = "NULL");
// PLAIN's HELLO: a username and a password (each at most 255 bytes).
std::string hello_command(const std::string& username, const std::string& password);
// PLAIN's INITIATE, sent after the server's WELCOME, announcing socket_type.
std::string initiate_command(const std::string& socket_type);
// A command frame: its name, then its data.
std::string command(const std::string& name, const std::string& data);
// A READY command announcing socket_type (e.g. "DEALER").
std::string ready_command(const std::string& socket_type);
// Frames of one message, each with MORE set but the last.
std::string encode_message(const std::vector<std::string>& frames);

struct frame {
    bool more = false;
    bool command = false;
    std::string body;
};

// Takes one whole frame from the front of `buffer`; nullopt if it is not all
// there yet. Throws ltest_error(protocol) for a frame over max_bytes.
std::optional<frame> take_frame(std::string& buffer, std::size_t max_bytes);
// Whole messages from a stream of frames. A message's frames are held until
// its last one (no MORE flag): what they may hold is bounded by max_bytes,
// each frame counted with frame_overhead besides its body, so that a peer
// sending empty frames with MORE set for ever cannot grow the holder.
// Command frames are handed to on_command and are no part of a message.
inline constexpr std::size_t frame_overhead = 64;  // a std::string and the vector's slot, rounded up
class message_assembler {
public:
    explicit message_assembler(std::size_t max_bytes) : max_bytes_(max_bytes) {}
    // The next whole message in `buffer` (taking its bytes), nullopt when
    // none is complete yet. Throws ltest_error(protocol) for a frame or a
    // message over max_bytes, or a frame with reserved flags.
    template <class OnCommand>
    std::optional<std::vector<std::string>> take(std::string& buffer, OnCommand on_command) {
        while (auto f = take_frame(buffer, max_bytes_)) {
            if (f->command) {
                on_command(f->body);
                continue;
            }
            add(std::move(f->body));
            if (!f->more) return finish();
        }
        return std::nullopt;
    }
    std::size_t held_bytes() const { return held_bytes_; }  // counted as above

private:
    void add(std::string body);
    std::vector<std::string> finish();

    std::size_t max_bytes_;
    std::vector<std::string> partial_;
    std::size_t held_bytes_ = 0;
};

// Checks a peer's greeting (ZMTP 3.x, this mechanism); throws ltest_error(protocol).
void check_greeting(const std::string& greeting, const std::string& mechanism = "NULL");
// The name of a command frame's body ("READY", "ERROR", ...).
std::string command_name(const std::string& body);
// The socket type a READY command announces ("" if none).
std::string ready_socket_type(const std::string& body);
// What the handshake makes of a frame from the server before its READY:
// true for the READY of a ROUTER, false for another command to pass over.
// Throws ltest_error(protocol) for an ERROR, a message, another socket type.
bool is_ready(const frame& f);

}  // namespace zmtp

class zmtp_dealer {
public:
    // Connects within `timeout`; throws ltest_error(no_server) when nothing
    // listens at host:port. The handshake completes before the first send
    // (or receive), which throws ltest_error(no_server) if the server does
    // not answer within `timeout`, ltest_error(protocol) if what answers is
    // not a ZeroMQ ROUTER.
    // A password: the PLAIN mechanism with it (protocol::connect_password); none: NULL.
    zmtp_dealer(const std::string& host, int port, std::chrono::milliseconds timeout, std::size_t max_message_bytes,
                const std::string& password = "");
    ~zmtp_dealer();
    zmtp_dealer(const zmtp_dealer&) = delete;
    zmtp_dealer& operator=(const zmtp_dealer&) = delete;

    void send(const std::vector<std::string>& frames);
    // A whole message if one arrives within `timeout` (0: only what is there
    // already); nullopt on timeout or when a signal interrupts the wait.
    // Throws ltest_error(no_server) when the server closes the connection.
    std::optional<std::vector<std::string>> receive(std::chrono::milliseconds timeout);
    // The socket, for poll() beside other fds. poll() cannot see messages
    // already read into the buffer: after it, call receive(0) until nullopt.
    int fd() const { return fd_; }

private:
    bool read_some(std::chrono::milliseconds timeout);  // false on timeout or EINTR
    bool handshake(std::chrono::steady_clock::time_point deadline);  // false: not complete yet
    std::optional<std::vector<std::string>> take_message();
    void write_all(const std::string& data);

    int fd_ = -1;
    std::string endpoint_;
    std::size_t max_bytes_;
    std::string in_;
    std::chrono::milliseconds handshake_timeout_;
    bool plain_ = false;  // PLAIN: the server's WELCOME comes before its READY
    bool greeted_ = false, welcomed_ = false, ready_ = false;
    zmtp::message_assembler messages_;  // frames of a message not complete yet
};

}  // namespace ltest

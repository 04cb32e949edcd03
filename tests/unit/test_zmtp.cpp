// The client's own ZMTP 3.0 (cli/client/zmtp_dealer): its encoding, and a
// conversation with a real libzmq ROUTER socket, as the server has.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <zmq_addon.hpp>

#include "connect_gate.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "test_support.hpp"
#include "zmtp_dealer.hpp"

using namespace ltest;
using namespace std::chrono;

namespace {

constexpr std::size_t max_bytes = 1 << 20;

int exit_code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ltest_error& e) {
        return e.exit_code;
    }
    return 0;
}

// A listening TCP socket on a free loopback port.
struct listener {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;
    listener() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~listener() { ::close(fd); }
};

}  // namespace

TEST_CASE("zmtp greeting and READY are what ZMTP 3.0 says", "[zmtp]") {
    std::string g = zmtp::greeting();
    REQUIRE(g.size() == 64);
    CHECK(static_cast<unsigned char>(g[0]) == 0xff);
    CHECK(g[9] == 0x7f);
    CHECK(g[10] == 3);
    CHECK(std::string(g.data() + 12, 4) == "NULL");
    CHECK_NOTHROW(zmtp::check_greeting(g));

    std::string ready = zmtp::ready_command("DEALER");
    auto f = zmtp::take_frame(ready, max_bytes);
    REQUIRE(f);
    CHECK(f->command);
    CHECK(ready.empty());
    CHECK(zmtp::command_name(f->body) == "READY");
    CHECK(zmtp::ready_socket_type(f->body) == "DEALER");
}

TEST_CASE("zmtp frames round-trip, short and long, and wait for their last byte", "[zmtp]") {
    std::vector<std::string> frames = {"", "short", std::string(300, 'x'), std::string(70000, '\0')};
    std::string wire = zmtp::encode_message(frames);
    for (std::size_t cut : {std::size_t(1), std::size_t(8), wire.size() - 1}) {
        std::string partial = wire.substr(0, cut);
        std::vector<std::string> got;
        while (auto f = zmtp::take_frame(partial, max_bytes)) got.push_back(f->body);
        CHECK(got.size() < frames.size());  // the incomplete frame is left in the buffer
    }
    std::string all = wire;
    std::vector<std::string> got;
    std::vector<bool> more;
    while (auto f = zmtp::take_frame(all, max_bytes)) {
        got.push_back(f->body);
        more.push_back(f->more);
    }
    CHECK(got == frames);
    CHECK(more == std::vector<bool>{true, true, true, false});
    CHECK(all.empty());
}

TEST_CASE("zmtp rejects what no ZeroMQ peer sends", "[zmtp]") {
    std::string reserved = "\x10\x01x";
    CHECK(exit_code_of([&] { zmtp::take_frame(reserved, max_bytes); }) == exit_code::protocol);
    std::string huge = zmtp::encode_message({std::string(2000, 'x')});
    CHECK(exit_code_of([&] { zmtp::take_frame(huge, 1000); }) == exit_code::protocol);

    std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
    http.resize(64, ' ');
    CHECK(exit_code_of([&] { zmtp::check_greeting(http); }) == exit_code::protocol);
    std::string curve = zmtp::greeting();
    std::copy_n("CURVE", 5, &curve[12]);
    CHECK(exit_code_of([&] { zmtp::check_greeting(curve); }) == exit_code::protocol);
    std::string v2 = zmtp::greeting();
    v2[10] = 1;
    CHECK(exit_code_of([&] { zmtp::check_greeting(v2); }) == exit_code::protocol);
    CHECK(zmtp::ready_socket_type(std::string("\x05READY\x0bSocket-Type\xff\xff\xff\xff", 22)).empty());
}

TEST_CASE("zmtp handshake: the server's READY, other commands, its ERROR", "[zmtp]") {
    auto first_frame = [](std::string bytes) { return *zmtp::take_frame(bytes, max_bytes); };
    CHECK(zmtp::is_ready(first_frame(zmtp::ready_command("ROUTER"))));
    CHECK_FALSE(zmtp::is_ready(first_frame(zmtp::command("PING", std::string("\0\0", 2)))));
    CHECK(exit_code_of([&] { zmtp::is_ready(first_frame(zmtp::ready_command("PUB"))); }) == exit_code::protocol);
    CHECK(exit_code_of([&] { zmtp::is_ready(first_frame(zmtp::encode_message({"early"}))); }) == exit_code::protocol);
    try {
        zmtp::is_ready(first_frame(zmtp::command("ERROR", std::string("\x06") + "denied")));
        FAIL("no error");
    } catch (const ltest_error& e) {
        CHECK(std::string(e.what()) == "the server refused the connection: denied");
    }
    // An ERROR without its reason is still one clear error, not a crash.
    CHECK(exit_code_of([&] { zmtp::is_ready(first_frame(zmtp::command("ERROR", ""))); }) == exit_code::protocol);
}

TEST_CASE("zmtp_dealer talks to a libzmq ROUTER both ways", "[zmtp]") {
    zmq::context_t ctx;
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.bind("tcp://127.0.0.1:*");
    std::string endpoint = router.get(zmq::sockopt::last_endpoint);
    int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));

    zmtp_dealer dealer("127.0.0.1", port, seconds(5), max_bytes);
    std::vector<std::string> request = {"<IDS|MSG>", "sig", std::string(100000, 'r'), "{}"};
    dealer.send(request);

    zmq::multipart_t in;
    REQUIRE(in.recv(router));
    REQUIRE(in.size() == 1 + request.size());
    std::string identity = in.popstr();
    for (const auto& frame : request) CHECK(in.popstr() == frame);

    // Two replies at once: both arrive, in order, though one read may hold both.
    for (const char* text : {"first", "second"}) {
        zmq::multipart_t out;
        out.addstr(identity);
        out.addstr(text);
        out.addstr(std::string(300, 'y'));
        out.send(router);
    }
    auto first = dealer.receive(seconds(5));
    REQUIRE(first);
    CHECK(*first == std::vector<std::string>{"first", std::string(300, 'y')});
    auto second = dealer.receive(seconds(5));
    REQUIRE(second);
    CHECK((*second)[0] == "second");
    CHECK_FALSE(dealer.receive(milliseconds(50)));
}

TEST_CASE("zmtp_dealer passes the server's gate with the key's password, and only with it", "[zmtp]") {
    zmq::context_t ctx;
    connect_gate gate(ctx, "the-password");  // the server's ZAP handler, in its thread
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::rcvhwm, 1);  // as the server's (router_limits.hpp)
    connect_gate::guard(router);
    router.bind("tcp://127.0.0.1:*");
    std::string endpoint = router.get(zmq::sockopt::last_endpoint);
    int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));

    zmtp_dealer dealer("127.0.0.1", port, seconds(5), max_bytes, "the-password");
    dealer.send({"<IDS|MSG>", "hello"});
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    REQUIRE(zmq::poll(&item, 1, milliseconds(5000)) == 1);
    zmq::multipart_t in;
    REQUIRE(in.recv(router));
    std::string identity = in.popstr();
    CHECK(in.popstr() == "<IDS|MSG>");
    CHECK(in.popstr() == "hello");
    zmq::multipart_t out;
    out.addstr(identity);
    out.addstr("answer");
    out.send(router);
    auto answer = dealer.receive(seconds(5));
    REQUIRE(answer);
    CHECK((*answer)[0] == "answer");

    // A wrong password: refused in the handshake, one clear line; nothing reaches the ROUTER.
    zmtp_dealer stranger("127.0.0.1", port, seconds(5), max_bytes, "not-the-password");
    try {
        stranger.send({"<IDS|MSG>", "junk"});
        stranger.receive(seconds(5));
        FAIL("a wrong password was let in");
    } catch (const ltest_error& e) {
        INFO(e.what());
        CHECK(e.exit_code == exit_code::protocol);
        CHECK(std::string(e.what()).find("refused this client's key") != std::string::npos);
    }
    // NULL (no password): the greeting's mechanism differs, the server closes.
    zmtp_dealer plain_null("127.0.0.1", port, seconds(5), max_bytes);
    CHECK(exit_code_of([&] {
              plain_null.send({"<IDS|MSG>", "junk"});
              plain_null.receive(seconds(5));
          }) != 0);
    CHECK(zmq::poll(&item, 1, milliseconds(200)) == 0);
}

TEST_CASE("zmtp_dealer says clearly when nothing, or not ZeroMQ, answers", "[zmtp]") {
    CHECK(exit_code_of([&] { zmtp_dealer("server.example", 1, seconds(1), max_bytes); }) == exit_code::usage);
    int port;
    {
        listener closed;  // bound, then closed: nothing listens there any more
        port = closed.port;
    }
    CHECK(exit_code_of([&] { zmtp_dealer("127.0.0.1", port, seconds(2), max_bytes); }) == exit_code::no_server);

    listener silent;  // accepted by the kernel's backlog, never answered
    zmtp_dealer unanswered("127.0.0.1", silent.port, milliseconds(200), max_bytes);
    CHECK_FALSE(unanswered.receive(milliseconds(100)));  // no message yet, no error
    CHECK(exit_code_of([&] { unanswered.send({"hello"}); }) == exit_code::no_server);

    listener web;
    std::thread http([&] {
        int c = ::accept(web.fd, nullptr, nullptr);
        std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + std::string(64, ' ');
        (void)!::write(c, answer.data(), answer.size());
        std::this_thread::sleep_for(milliseconds(300));
        ::close(c);
    });
    CHECK(exit_code_of([&] {
              zmtp_dealer d("127.0.0.1", web.port, seconds(2), max_bytes);
              d.receive(seconds(2));
          }) == exit_code::protocol);
    http.join();
}

TEST_CASE("a message's frames are held up to the bound, empty ones too", "[zmtp]") {
    zmtp::message_assembler messages(4096);
    std::string in = zmtp::encode_message({"a", "", "bc"});
    int commands = 0;
    in += zmtp::command("PING", std::string("\0\0", 2));  // between messages: no part of one
    auto m = messages.take(in, [&](const std::string&) { ++commands; });
    REQUIRE(m);
    CHECK(*m == std::vector<std::string>{"a", "", "bc"});
    CHECK_FALSE(messages.take(in, [&](const std::string&) { ++commands; }));
    CHECK(commands == 1);
    CHECK(in.empty());
    // A never-ending message of empty frames: each costs its overhead, so the holder stops at the bound.
    std::string flood;
    for (int i = 0; i < 4096 / static_cast<int>(zmtp::frame_overhead) + 1; ++i) flood += std::string("\x01\x00", 2);
    CHECK_THROWS_AS(messages.take(flood, [](const std::string&) {}), ltest_error);
    CHECK(messages.held_bytes() <= 4096);
}

// A handed-over run's fds: its output to its client (bounded: a slow reader
// slows only its test process), its input, its control messages, its end.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/zmq/zmq_frames.hpp>

#include "client_liveness.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "run_output.hpp"
#include "server_core.hpp"

namespace ltest {
using namespace std::chrono;

void server::add_poll_items(run& r, std::vector<zmq::pollitem_t>& items) {
    if (r.may_read_output()) {
        // A hung-up pty polls as always ready: it is read again at the end (drain_hung_up).
        if (r.pipes.out >= 0 && !r.out_hung_up) items.push_back({nullptr, r.pipes.out, ZMQ_POLLIN, 0});
        if (r.pipes.err >= 0 && !r.err_hung_up) items.push_back({nullptr, r.pipes.err, ZMQ_POLLIN, 0});
    }
    if (r.pipes.ctl >= 0) items.push_back({nullptr, r.pipes.ctl, ZMQ_POLLIN, 0});
}

void server::pump(run& r) {
    if (r.phase() != run_phase::handing_over && r.phase() != run_phase::running) return;
    pump_output(r, 8);
    for (const auto& line : read_control(r)) {
        if (line == "I") {
            pump_output(r, 1024);  // the prompt first, then the question
            queue_for(r, protocol::input_request, json{{"prompt", ""}, {"password", false}});
        } else if (line.rfind("P ", 0) == 0) {  // getpass (child_stdin.relay_getpass): its prompt, as JSON
            pump_output(r, 1024);
            json prompt = json::parse(line.substr(2), nullptr, false);
            queue_for(r, protocol::input_request,
                      json{{"prompt", prompt.is_string() ? prompt.get<std::string>() : std::string("Password: ")},
                           {"password", true}});
        } else if (line.rfind("X ", 0) == 0) {
            try {
                r.exit_code = std::stoi(line.substr(2));
                r.exit_at = steady_clock::now();
            } catch (const std::exception&) {
            }
        }
    }
}

// Up to `reads` reads per stream while the client keeps up.
void server::pump_output(run& r, int reads) {
    for (int i = 0; i < reads && r.may_read_output(); ++i) {
        bool got = false;
        got |= read_stream(r, r.pipes.out, r.out_hung_up, r.out_text, "stdout");
        got |= read_stream(r, r.pipes.err, r.err_hung_up, r.err_text, "stderr");
        if (!got) return;
    }
}

bool server::read_stream(run& r, int& fd, bool& hung_up, utf8_text& text, const char* name) {
    if (fd < 0 || hung_up) return false;
    auto chunk = read_chunk(fd);
    if (chunk.eof) {
        if (::isatty(fd)) {
            hung_up = true;
        } else {
            end_stream(r, fd, text, name);
        }
        return false;
    }
    if (chunk.bytes.empty()) return false;
    std::string decoded = text.decode(chunk.bytes.data(), chunk.bytes.size());
    if (!decoded.empty()) queue_for(r, protocol::stream, json{{"name", name}, {"text", decoded}});
    return true;
}

// A pty master answers EIO once no one holds its slave, but Linux can answer
// it while the slave's last writes are still on their way to the master's
// read buffer: the next read returns them (seen on 6.x, about one run in 500,
// as a run's output without its summary). So a pty that said EIO is read
// again once its writer is done (its exit code is in, or its control pipe
// closed), until three reads in a row find nothing: each poll and read
// first has the kernel move what it holds. What comes then is at most what
// the pty holds, so the output bound stays about the same.
void server::drain_hung_up(run& r, int& fd, bool& hung_up, utf8_text& text, const char* name) {
    if (fd < 0 || !hung_up) return;
    for (int empty = 0; empty < 3;) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 0);
        auto chunk = read_chunk(fd);
        if (chunk.bytes.empty()) {
            ++empty;
            continue;
        }
        empty = 0;
        std::string decoded = text.decode(chunk.bytes.data(), chunk.bytes.size());
        if (!decoded.empty()) queue_for(r, protocol::stream, json{{"name", name}, {"text", decoded}});
    }
    end_stream(r, fd, text, name);
}

void server::end_stream(run& r, int& fd, utf8_text& text, const char* name) {
    std::string rest = text.finish();
    if (!rest.empty()) queue_for(r, protocol::stream, json{{"name", name}, {"text", rest}});
    run_pipes::close_fd(fd);
}

std::vector<std::string> server::read_control(run& r) {
    if (r.pipes.ctl < 0) return {};
    auto chunk = read_chunk(r.pipes.ctl);
    if (chunk.eof) run_pipes::close_fd(r.pipes.ctl);
    r.ctl_buffer += chunk.bytes;
    if (r.ctl_buffer.size() > 4096) r.ctl_buffer.clear();  // not ltest's child speaking
    return take_lines(r.ctl_buffer);
}

void server::write_input(run& r, const std::string& text) {
    if (r.pipes.in < 0) return;
    if (text == "\x04") {
        r.pipes.close_in();
        return;
    }
    if (!write_some(r.pipes.in, text + "\n")) r.pipes.close_in();  // it closed its stdin, or it is full
}

// The run is over when its exit code is in and its output read, or when
// everything closed without one (the kernel then tells how it ended).
void server::finish_if_done(run& r) {
    if (r.phase() != run_phase::running && r.phase() != run_phase::handing_over) return;
    if (r.exit_code && r.output_open() && steady_clock::now() - *r.exit_at > leftover_grace && r.pid > 0) {
        ::kill(-r.pid, SIGKILL);  // processes the tests left behind hold the output
        pump_output(r, 1024);
        run_pipes::close_fd(r.pipes.out);
        run_pipes::close_fd(r.pipes.err);
    }
    if (r.exit_code || r.pipes.ctl < 0) {  // the test process is done writing
        drain_hung_up(r, r.pipes.out, r.out_hung_up, r.out_text, "stdout");
        drain_hung_up(r, r.pipes.err, r.err_hung_up, r.err_text, "stderr");
    }
    // The kernel's word that it took the run comes first: it says whether the run had a spare.
    if (r.output_open() || (r.pipes.ctl >= 0 && !r.exit_code) || !r.taken) return;
    std::optional<int> code = r.exit_code;
    if (!code && r.pid > 0) {
        auto it = reaped_.find(r.pid);
        if (it != reaped_.end()) code = it->second;
    }
    if (!code) return;  // the kernel has not reaped it yet
    reaped_.erase(r.pid);
    answer(r, run_reply_content(r.result, *code));
}

}  // namespace ltest

#!/usr/bin/python3
"""Regenerates the seed corpus (corpus/) and the reproducers of fixed bugs
(regressions/) of wire_fuzzer, and multipart_fuzzer's seeds (corpus-multipart/:
hand-made frame streams, write_multipart_seeds).

The seeds are real messages: a fake server (a ROUTER with the fuzzer's fixed
key, announced in a runtime file of its own) records what the real ltest
client sends (run_request, keepalive, input_reply, interrupt_request,
status_request, shutdown_request), frames exactly as the server's ROUTER
receives them, identity first. Each is stored twice: mode byte 0x00 (raw, the
signature as sent: it verifies) and 0x01 (the fuzzer re-signs).

    /usr/bin/python3 tests/fuzz/make_corpus.py build/cli/ltest
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import hashlib
import hmac

import zmq
from jupyter_client.session import Session
from zmq.auth.thread import ThreadAuthenticator

HERE = Path(__file__).resolve().parent
KEY = b"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"  # as in wire_fuzzer.cpp
SEP = b"\xff"
IDENTITY = b"\x00k\x8bEg"  # what a ROUTER puts in front: 0x00 + 4 bytes


def zmtp_frame(body, flags=0):
    if len(body) > 255:
        return bytes([flags | 2]) + len(body).to_bytes(8, "big") + body
    return bytes([flags, len(body)]) + body


def zmtp_seeds(message):
    greeting = b"\xff" + b"\0" * 7 + b"\x01\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
    ready = zmtp_frame(b"\x05READY\x0bSocket-Type" + (6).to_bytes(4, "big") + b"ROUTER", 4)
    frames = b"".join(zmtp_frame(f, 1 if i + 1 < len(message) else 0) for i, f in enumerate(message))
    return {
        "zmtp-hello": greeting + ready + frames,
        "zmtp-ping": greeting + ready + zmtp_frame(b"\x04PING\x00\x0actx", 4) + frames,
        "zmtp-error": greeting + zmtp_frame(b"\x05ERROR\x06denied", 4),
    }


def encode(frames, mode):
    assert all(SEP not in f for f in frames), "a frame holds the separator byte"
    return bytes([mode]) + SEP.join(frames)


def own_start_time():
    """This process's start time (/proc/self/stat, field 22): with the pid it
    says the runtime file is a live server's, not a leftover to remove."""
    stat = Path("/proc/self/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[22 - 3])


class FakeServer(threading.Thread):
    """Answers like ltest's server, records every multipart it receives."""

    def __init__(self, runtime_dir, input_line=False, linger_s=0.0):
        super().__init__(daemon=True)
        self.ctx = zmq.Context()
        # The client proves it holds the key in the handshake (cli/server/connect_gate.hpp).
        self.auth = ThreadAuthenticator(self.ctx)
        self.auth.start()
        password = hmac.new(KEY, b"ltest-connect", hashlib.sha256).hexdigest()
        self.auth.configure_plain(domain="*", passwords={"ltest": password})
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.plain_server = True
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.session = Session(key=KEY, signature_scheme="hmac-sha256", username="fake-server")
        self.received = []
        self.input_line = input_line
        self.linger_s = linger_s
        self.stop = False
        info = {"ip": "127.0.0.1", "port": self.port, "key": KEY.decode(), "signature_scheme": "hmac-sha256",
                "pid": os.getpid(), "start_time": own_start_time(), "kernel_connection_file": "",
                "version": "0.1.0"}
        path = Path(runtime_dir) / f"ltest-{self.port}.json"
        path.write_text(json.dumps(info))
        path.chmod(0o600)

    def reply(self, ident, parent, msg_type, content):
        self.session.send(self.sock, msg_type, content, parent=parent, ident=[ident])

    def run(self):
        self.finish_at = None
        while not self.stop:
            if self.finish_at and time.monotonic() >= self.finish_at[0]:
                self.finish(self.finish_at[1])
            if not self.sock.poll(20):
                continue
            frames = self.sock.recv_multipart()
            self.received.append(frames)
            ident = frames[0]
            _, msg_frames = self.session.feed_identities(frames)
            msg = self.session.deserialize(msg_frames)
            t = msg["msg_type"]
            if t == "run_request":
                self.reply(ident, msg["header"], "run_status", {"state": "starting", "ahead": 0})
                self.reply(ident, msg["header"], "stream", {"name": "stdout", "text": "."})
                self.run_header = msg["header"]
                if self.input_line:
                    self.reply(ident, msg["header"], "input_request", {"prompt": "> ", "password": False})
                else:
                    self.finish_at = (time.monotonic() + self.linger_s, ident)
            elif t == "input_reply":
                self.finish(ident)
            elif t == "status_request":
                self.reply(ident, msg["header"], "status_reply",
                           {"address": f"tcp://127.0.0.1:{self.port}", "server_pid": os.getpid(), "version": "0.1.0",
                            "kernel_name": "python3", "kernel_pid": 1, "owned": True, "connection_file": "",
                            "preloaded": [], "restarts": 0, "runs": 0, "queued": 0, "run_in_flight": False,
                            "server_uptime": 1.0})
            elif t == "shutdown_request":
                self.reply(ident, msg["header"], "shutdown_reply", {"status": "ok"})
            elif t == "interrupt_request":
                self.finish_at = None
                self.reply(ident, self.run_header, "run_reply", {"status": "ok", "exit_code": 2, "duration": 0.1})

    def finish(self, ident):
        self.finish_at = None
        self.reply(ident, self.run_header, "run_reply", {"status": "ok", "exit_code": 0, "duration": 0.01})

    def close(self):
        self.stop = True
        self.join()
        self.sock.close(0)
        self.auth.stop()
        self.ctx.term()


def capture(ltest, args, input_line=False, linger_s=0.0, interrupt_after=None, kill_after=30):
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        # A small environment: the run_request carries the client's environment.
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "JUPYTER_RUNTIME_DIR": tmp, "LANG": "C.UTF-8"}
        server = FakeServer(tmp, input_line, linger_s)
        server.start()
        try:
            p = subprocess.Popen([ltest, "-p", str(server.port), *args], cwd="/tmp", env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if interrupt_after is not None:
                time.sleep(interrupt_after)
                p.send_signal(signal.SIGINT)
            try:
                p.communicate(input=b"typed line\n", timeout=kill_after)
            except subprocess.TimeoutExpired:  # --stop waits for the (fake) server's pid to exit
                p.kill()
                p.communicate()
        finally:
            server.close()
        print(f"{args}: {len(server.received)} messages in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        return server.received


def capture_all(ltest):
    """The client's messages in every kind of run: a plain one, -n with
    selections, input, Ctrl-C, --status, --stop."""
    captured = []
    captured += capture(ltest, ["--", "-q"])
    captured += capture(ltest, ["-n", "2", "--", "-x", "tests/test_a.py::test_b", "-k", "not slow"], linger_s=1.3)
    captured += capture(ltest, ["--", "-s"], input_line=True)
    captured += capture(ltest, ["--", "-q"], linger_s=3.0, interrupt_after=0.5)
    captured += capture(ltest, ["--status"])
    captured += capture(ltest, ["--stop"], kill_after=1)
    return captured


def write_captured(corpus, captured):
    """Each captured message, raw and signed (keepalives: the first only)."""
    seen = {}
    for frames in captured:
        frames = [IDENTITY, *frames[1:]]
        header = json.loads(frames[3])
        t = header["msg_type"]
        if t == "keepalive" and seen.get(t, 0) >= 1:
            continue
        n = seen[t] = seen.get(t, 0) + 1
        for mode in (0, 1):
            (corpus / f"{t}-{n}-{'raw' if mode == 0 else 'signed'}").write_bytes(encode(frames, mode))


def write_hand_made(corpus, rr):
    # Hand-made: the four JSON parts alone (signed mode puts <IDS|MSG> in front),
    # a wrong signature, no delimiter, a non-object content, unknown type.
    hand = {
        "parts-only-signed": (1, rr[3:7]),
        "wrong-signature-raw": (0, [IDENTITY, rr[1], b"0" * 64, *rr[3:7]]),
        "no-delimiter-raw": (0, [IDENTITY, *rr[3:7]]),
        "content-array-signed": (1, [IDENTITY, rr[1], b"", rr[3], rr[4], rr[5], b"[1, 2]"]),
        "unknown-type-signed": (1, [b"<IDS|MSG>", b"", b'{"msg_type": "frobnicate_request", "msg_id": "x"}',
                                    b"{}", b"{}", b"{}"]),
        "buffers-signed": (1, [IDENTITY, rr[1], b"", *rr[3:7], b"\x00\x01binary", b""]),
        # Bytes that are not UTF-8, escaped (byte_text.hpp), and an escape that escapes nothing.
        "run_request-bytes-signed": (1, [b"<IDS|MSG>", b"", b'{"msg_type": "run_request", "msg_id": "b1"}', b"{}", b"{}",
                                         b'{"args": ["x\\u0000ff"], "cwd": "/tmp/d\\u0000fe", '
                                         b'"env": {"N\\u0000ff": "v\\u000080", "Z": "\\u0000zz"}}']),
    }
    for name, (mode, frames) in hand.items():
        (corpus / name).write_bytes(encode(frames, mode))


def write_client_seeds(corpus, rr):
    # Mode 0x80: what a server sends the client's own ZMTP code (a greeting,
    # READY, a message of short and long frames; and a PING, an ERROR).
    for name, data in zmtp_seeds(rr).items():
        (corpus / name).write_bytes(b"\x80" + data)
    # Mode 0x40: a hostile server's answers as the client reads them (msg_type,
    # then the content's JSON): out-of-range and mistyped exit codes, escapes.
    esc = "\u001b]0;t\u0007\u001b[2J\u009b31m"
    replies = {
        "reply-run_reply-256": (b"run_reply", b'{"status": "ok", "exit_code": 256}'),
        "reply-run_reply-string": (b"run_reply", b'{"status": "error", "exit_code": "0", "error": "' + esc.encode() + b'"}'),
        "reply-run_reply-fork_unsafe": (b"run_reply", b'{"status": "ok", "exit_code": 1, "fork_unsafe": ["' +
                                        esc.encode() + b'", 2]}'),
        "reply-stream": (b"stream", b'{"name": "stderr", "text": "' + esc.encode() + b'"}'),
        "reply-run_status": (b"run_status", b'{"state": "restarting", "reason": "' + esc.encode() + b'"}'),
        "reply-input_request": (b"input_request", b'{"prompt": "? ", "password": true}'),
        "reply-status_reply": (b"status_reply", b'{"address": "' + esc.encode() + b'", "server_pid": 1, "preloaded": '
                               b'[{"module": "m", "seconds": 0.1}], "fork_unsafe": ["x"], "kernel_pid": 2}'),
    }
    for name, (msg_type, content) in replies.items():
        (corpus / name).write_bytes(b"\x40" + msg_type + b"\xff" + content)


def signed_message(msg_type, content):
    """An ltest message's frames, signed with the fuzzer's key (a key holder's)."""
    parts = [json.dumps({"msg_type": msg_type, "msg_id": f"seed-{msg_type}", "session": "s", "username": "u",
                         "date": "2026-01-01T00:00:00Z", "version": "5.3"}).encode(), b"{}", b"{}",
             json.dumps(content).encode()]
    mac = hmac.new(KEY, digestmod=hashlib.sha256)
    for p in parts:
        mac.update(p)
    return [b"<IDS|MSG>", mac.hexdigest().encode(), *parts]


def message_stream(frames):
    return b"".join(zmtp_frame(f, 1 if i + 1 < len(frames) else 0) for i, f in enumerate(frames))


def write_multipart_seeds(corpus):
    """multipart_fuzzer's seeds: byte 0 chooses the reader (0x00/0x01/0x02: the
    server's ROUTER after the key's password, a wrong one, NULL; 0x80-0x83: the
    client's assembler, read in steps of 1, 7, 64 bytes or all), the rest is
    the frame stream after the handshake."""
    status = message_stream(signed_message("status_request", {}))
    run = message_stream(signed_message("run_request", {"args": ["-q"], "cwd": "/tmp", "env": {"A": "\u0000ff"}}))
    streams = {
        "empty-more-frames": zmtp_frame(b"", 1) * 600,  # a message that never ends, 28 bytes held per byte sent
        "status-then-never-ending": status + zmtp_frame(b"x", 1) * 300,
        "two-messages": status + run,
        "long-frame": zmtp_frame(b"L" * 300, 1) + zmtp_frame(b"end"),
        "long-flag-short-size": bytes([3]) + (4).to_bytes(8, "big") + b"abcd" + zmtp_frame(b"end"),
        "ping-between": status + zmtp_frame(b"\x04PING\x00\x0actx", 4) + status,
        "command-inside": zmtp_frame(b"a", 1) + zmtp_frame(b"\x04PING\x00\x00", 4) + zmtp_frame(b"b"),
        "reserved-flags": zmtp_frame(b"a", 1) + bytes([0x81, 1]) + b"b" + zmtp_frame(b"c"),
        "over-the-client-bound": zmtp_frame(b"y" * 4000, 1) + zmtp_frame(b"z" * 200),
        "huge-declared-size": bytes([2]) + (1 << 62).to_bytes(8, "big") + b"tail",
        "cut-mid-frame": status + zmtp_frame(b"abcdef")[:4],
    }
    for name, stream in streams.items():
        for mode in (0, 1, 2):
            (corpus / f"{name}-server-{mode}").write_bytes(bytes([mode]) + stream)
        for mode in (0x80, 0x81, 0x83):
            (corpus / f"{name}-client-{mode & 3}").write_bytes(bytes([mode]) + stream)


def write_known_bugs():
    """Returns how many were written."""
    # Known server bugs (README.md): each crashes the strict build.
    bugs = HERE / "regressions"
    bugs.mkdir(exist_ok=True)
    run_content = b'{"args": ["-q"], "cwd": "/tmp", "env": {}}'
    known = {
        # heard_from reads the stored run_request header's msg_id with json::value(): a number throws.
        "keepalive-msg_id-number": [b'{"msg_type": "run_request", "msg_id": 5}', b"{}", b"{}", run_content],
        # handle_client reads input_reply's "value" with json::value(): a number throws.
        "input_reply-value-number": [b'{"msg_type": "input_reply", "msg_id": "i1"}', b"{}", b"{}", b'{"value": 5}'],
        # wire::deserialize lets json::out_of_range (a number that overflows a double) escape.
        "deserialize-number-overflow": [b'{"msg_type": "status_request", "msg_id": "s1"}', b"{}", b"{}",
                                        b'{"x": 1e400}'],
        # from_json converts a float that does not fit an int: undefined behaviour.
        "run_request-columns-1e100": [b'{"msg_type": "run_request", "msg_id": "r1"}', b"{}", b"{}",
                                      b'{"args": [], "cwd": "/tmp", "env": {}, "columns": 1e100}'],
    }
    for name, parts in known.items():
        (bugs / name).write_bytes(encode(parts, 1))
    return len(known)


def main():
    ltest = sys.argv[1] if len(sys.argv) > 1 else str(HERE.parent.parent / "build" / "cli" / "ltest")
    captured = capture_all(ltest)
    corpus = HERE / "corpus"
    corpus.mkdir(exist_ok=True)
    for old in corpus.iterdir():
        old.unlink()
    write_captured(corpus, captured)
    rr = next(f for f in captured if json.loads(f[3])["msg_type"] == "run_request")
    write_hand_made(corpus, rr)
    write_client_seeds(corpus, rr)
    n_known = write_known_bugs()
    multipart = HERE / "corpus-multipart"
    multipart.mkdir(exist_ok=True)
    for old in multipart.iterdir():
        old.unlink()
    write_multipart_seeds(multipart)
    print(f"{len(list(corpus.iterdir()))} seeds, {n_known} known-bug reproducers, "
          f"{len(list(multipart.iterdir()))} multipart seeds")


if __name__ == "__main__":
    main()

"""A hostile ltest server for the client's tests: a real ZeroMQ ROUTER (pyzmq)
on 127.0.0.1 with a runtime file the client finds, answering each request with
whatever a test scripts: out-of-range exit codes, wrong types, escape
sequences, silence. It signs correctly, so only the client's reading of the
content is under test."""
import contextlib
import json
import os
import threading
import uuid

import zmq

from zmq.auth.thread import ThreadAuthenticator

from conftest import connect_password, free_port, header, ltest_binary, sign


def own_start_time():
    """This process's start time (/proc/self/stat, field 22): a runtime file
    naming a live process that is not that server is a leftover, and removed
    (stale_server_files.hpp); the pid and start time together say it is."""
    stat = open("/proc/self/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[22 - 3])


class FakeServer(contextlib.AbstractContextManager):
    """answer(msg_type, content) -> [(msg_type, content), ...] to send back, each
    with the request's header as parent. Everything received is in .received."""

    def __init__(self, runtime_dir, answer):
        self.port = free_port()
        self.runtime_dir = runtime_dir
        self.key = uuid.uuid4().hex.encode()
        self.answer = answer
        self.received = []
        self.ctx = zmq.Context()
        # The client's handshake proves it holds the key, as with the real server (connect_gate.hpp).
        self.auth = ThreadAuthenticator(self.ctx)
        self.auth.start()
        self.auth.configure_plain(domain="*", passwords={"ltest": connect_password(self.key).decode()})
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.plain_server = True
        self.sock.bind(f"tcp://127.0.0.1:{self.port}")
        info = {"ip": "127.0.0.1", "port": self.port, "key": self.key.decode(), "signature_scheme": "hmac-sha256",
                "pid": os.getpid(), "start_time": own_start_time(), "kernel_connection_file": "", "version": "fake"}
        self.runtime_file = runtime_dir / f"ltest-{self.port}.json"
        fd = os.open(self.runtime_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, json.dumps(info).encode())
        os.close(fd)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _send(self, identity, msg_type, content, parent):
        parts = [json.dumps(header(msg_type)).encode(), json.dumps(parent).encode(), b"{}",
                 json.dumps(content).encode()]
        self.sock.send_multipart([identity, b"<IDS|MSG>", sign(self.key, parts), *parts])

    def _serve(self):
        while not self.stopping.is_set():
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            d = frames.index(b"<IDS|MSG>")
            h = json.loads(frames[d + 2])
            content = json.loads(frames[d + 5])
            self.received.append((h["msg_type"], content))
            parent = json.loads(frames[d + 3]) if h["msg_type"] != "run_request" else h
            if h["msg_type"] in ("run_request", "status_request"):
                self.request_header = h
            for msg_type, reply in self.answer(h["msg_type"], content):
                self._send(frames[0], msg_type, reply, getattr(self, "request_header", parent))

    def types_received(self):
        return [t for t, _ in self.received]

    def env(self):
        return dict(os.environ, JUPYTER_RUNTIME_DIR=str(self.runtime_dir))

    def cmd(self, *args):
        return [ltest_binary(), "-p", str(self.port), *args]

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close(0)
        self.auth.stop()
        self.ctx.term()

"""Helpers to run cells on a kernel started by the `kernel` fixture and read their outputs."""
import re

# %ltest colours its output (PY_COLORS=1); the tests read the text.
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def execute(kc, code, timeout=60, stdin_hook=None):
    """Runs code as a notebook cell; returns (execute_reply content, iopub
    messages of that request, minus status and execute_input)."""
    messages = []

    def keep(msg):
        if msg["msg_type"] not in ("status", "execute_input"):
            messages.append(msg)

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=keep,
                                   allow_stdin=stdin_hook is not None, stdin_hook=stdin_hook)
    return reply["content"], messages


def stream_text(messages, name="stdout", colours=False):
    """The stream's text, without ANSI colour codes unless `colours`."""
    text = "".join(m["content"]["text"] for m in messages
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)
    return text if colours else ANSI.sub("", text)


def results(messages):
    """text/plain of the execute_result messages (a cell's Out)."""
    return [m["content"]["data"].get("text/plain") for m in messages if m["msg_type"] == "execute_result"]

"""README's "What a run is" says how a run's output and input travel: this
test keeps it in step with the code (the hand-over of fds, the control
pipe's input request, the kernel's relay only for the runs relay.py names)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "share" / "ltest" / "ltest"
README = (ROOT / "README.md").read_text()


def section():
    start = README.index("### What a run is")
    return " ".join(README[start:README.index("Known limits:", start)].split())


def test_the_hand_over_passes_the_runs_fds_and_the_readme_says_so():
    handover = (RUNTIME / "in_kernel" / "handover.py").read_text()
    assert "socket.AF_UNIX" in handover and "recv_fds" in handover  # the run's fds come with the request
    text = section()
    assert "Unix socket" in text and "file descriptors over the hand-over socket" in text
    assert not re.search(r"The kernel relays output", text)


def test_input_is_asked_for_on_the_control_pipe_and_the_readme_says_so():
    stdin = (RUNTIME / "in_test_process" / "child_stdin.py").read_text()
    assert 'b"I\\n"' in stdin  # a read of stdin asks the server for a line
    assert "over the run's control pipe, for a line from your client" in section()


def test_the_runs_the_kernel_relays_are_the_ones_the_readme_names():
    relay_doc = (RUNTIME / "in_kernel" / "relay.py").read_text().split('"""')[1]
    named = {"a kernel on another host": "kernel on another host", "`%ltest`": "`%ltest`",
             "the Tests panel": "Tests panel"}
    for in_code, in_readme in named.items():
        assert in_code in relay_doc, f"relay.py no longer relays for {in_code}: update README and this test"
        assert in_readme in section().split("Only ")[1], in_readme

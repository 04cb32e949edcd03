"""%ltest through a kernel client: the stop button, and stdin (input(), --pdb)."""
import os
import queue
import re
import textwrap
import time

from ltest_kernel_io import ANSI, execute, results, stream_text


def write(directory, name, source):
    (directory / name).write_text(textwrap.dedent(source))


def run_and_interrupt(km, kc, code, ready_text, interrupts=1, timeout=60):
    """Executes code; once `ready_text` streamed, interrupts the kernel
    (`interrupts` times, a second apart); returns (reply content, stdout)."""
    msg_id = kc.execute(code)
    out = []
    deadline = time.monotonic() + timeout
    sent = 0
    next_interrupt = None
    while True:
        assert time.monotonic() < deadline, "".join(out)
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            msg = None
        if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        now = time.monotonic()
        if next_interrupt is None and ready_text in "".join(out):
            next_interrupt = now + 0.5
        if next_interrupt is not None and sent < interrupts and now >= next_interrupt:
            km.interrupt_kernel()
            sent += 1
            next_interrupt = now + 1.0
    reply = kc.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    return reply["content"], ANSI.sub("", "".join(out))  # without %ltest's colours


def assert_gone(pid, timeout=5.0):
    # The kernel answers as soon as the test process reports its exit code and
    # reaps it just after (off the critical path): give that a moment.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"test process {pid} outlived its run")


def assert_kernel_works(kc):
    # After a cell that ends in an error, ipykernel aborts the execute requests
    # already on their way (what stops "Run All"): the next one runs.
    for _ in range(5):
        reply, messages = execute(kc, "6 * 7")
        if reply["status"] != "aborted":
            break
        time.sleep(0.2)
    assert reply["status"] == "ok"
    assert results(messages) == ["42"]


def test_stop_button_interrupts_the_tests_and_the_kernel_lives_on(kernel, workdir):
    km, kc = kernel
    write(workdir, "test_sleep.py", """\
        import os, time
        def test_sleeps():
            print("sleeping in", os.getpid(), flush=True)
            for _ in range(1200): time.sleep(0.05)  # see tests/integration/conftest.py, interrupted sleeps
        """)
    assert execute(kc, "%load_ext ltest")[0]["status"] == "ok"
    start = time.monotonic()
    reply, out = run_and_interrupt(km, kc, "%ltest -q -s test_sleep.py", "sleeping in")
    assert time.monotonic() - start < 30

    # pytest's own KeyboardInterrupt summary, then the cell stops like any interrupted cell.
    assert "!!! KeyboardInterrupt !!!" in out.replace("!" * 10, "!!!"), out
    assert "test_sleep.py:4: KeyboardInterrupt" in out, out
    assert "no tests ran in" in out, out
    assert reply["status"] == "error"
    assert reply["ename"] == "RunInterrupted"
    assert reply["traceback"] == ["KeyboardInterrupt: the test run was interrupted (exit code 2)"]

    assert_gone(int(out.split("sleeping in")[1].split()[0]))
    assert_kernel_works(kc)
    reply, messages = execute(kc, "import ltest\nltest.last_result()['exit_code']")
    assert results(messages) == ["2"]


def test_second_interrupt_kills_tests_that_ignore_the_first(kernel, workdir):
    km, kc = kernel
    write(workdir, "test_stubborn.py", """\
        import os, signal, time
        def test_ignores_sigint():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            print("stubborn", os.getpid(), flush=True)
            time.sleep(60)
        """)
    execute(kc, "%load_ext ltest")
    reply, out = run_and_interrupt(km, kc, "%ltest -q -s test_stubborn.py", "stubborn", interrupts=2)
    assert reply["status"] == "error"
    assert reply["evalue"] == "the test run was interrupted (exit code 137)"  # 128 + SIGKILL
    assert_gone(int(out.split("stubborn")[1].split()[0]))
    assert_kernel_works(kc)


def test_input_is_answered_through_the_notebook(kernel, workdir):
    km, kc = kernel
    write(workdir, "test_input.py", """\
        def test_greets():
            name = input("name? ")
            print("hello", name)
        """)
    execute(kc, "%load_ext ltest")
    requests = []

    def answer(msg):
        requests.append(msg["content"])
        kc.input("world")

    reply, messages = execute(kc, "%ltest -q -s test_input.py", stdin_hook=answer)
    out = stream_text(messages)
    assert reply["status"] == "ok"
    assert len(requests) == 1 and requests[0]["password"] is False
    assert "name? " in out
    assert "hello world" in out
    assert "1 passed in" in out
    assert results(messages) == []

    # A frontend without stdin: the test reads EOF instead of hanging.
    reply, messages = execute(kc, "%ltest -q -s test_input.py")
    out = stream_text(messages)
    assert "EOFError" in out and "1 failed in" in out, out
    assert results(messages) == []  # the exit code never shows as Out


def test_pdb_prompts_in_the_notebook(kernel, workdir):
    km, kc = kernel
    write(workdir, "test_debug.py", """\
        def test_wrong():
            x = 6
            assert x == 7
        """)
    execute(kc, "%load_ext ltest")
    commands = iter(["p x * 7", "c"])

    def answer(msg):
        kc.input(next(commands))

    reply, messages = execute(kc, "%ltest -q --pdb test_debug.py", stdin_hook=answer)
    out = stream_text(messages)
    assert reply["status"] == "ok"
    assert "entering PDB" in out
    assert re.search(r"(?m)(^|\s)42$", out), out
    assert "FAILED test_debug.py::test_wrong - assert 6 == 7" in out
    assert results(messages) == []  # the exit code never shows as Out
    assert next(commands, None) is None  # both commands were asked for

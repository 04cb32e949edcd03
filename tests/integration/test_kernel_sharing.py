"""A kernel shared with a notebook: attach politely, never shadow the files on
disk, report what makes forking unsafe (issues 5 and 6)."""
import subprocess
import time


from conftest import Server, write_files


def execute(kc, code, timeout=60):
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]


def evaluate(kc, expr):
    reply = kc.execute_interactive("", user_expressions={"v": expr}, timeout=30, output_hook=lambda m: None)
    return reply["content"]["user_expressions"]["v"]["data"]["text/plain"]


def attach(tmp_path, km):
    server = Server(tmp_path, args=("--existing", km.connection_file))
    server.runtime_dir = tmp_path / "runtime"
    server.env["JUPYTER_RUNTIME_DIR"] = str(server.runtime_dir)
    return server.start()


def test_attached_server_is_polite_and_detaches(notebook_kernel, tmp_path):
    km, kc = notebook_kernel
    execute(kc, "x = 41")
    count_before = execute(kc, "x += 1")["execution_count"]
    names_before = evaluate(kc, "sorted(k for k in globals() if not k.startswith('_'))")
    server = attach(tmp_path, km)
    try:
        proj = write_files(tmp_path / "proj", {"test_x.py": "def test_x(): pass\n"})
        for _ in range(3):
            r = server.run("-q", cwd=proj)
            assert r.returncode == 0, r.stdout + r.stderr
        # Nothing in the notebook's history, execution count or namespace.
        assert execute(kc, "x += 1")["execution_count"] == count_before + 1
        assert evaluate(kc, "sorted(k for k in globals() if not k.startswith('_'))") == names_before
        assert evaluate(kc, "x") == "43"
    finally:
        server.stop()
    # Detached: the notebook's kernel is still alive and working.
    assert km.is_alive()
    assert evaluate(kc, "x") == "43"


def test_notebook_modules_do_not_shadow_the_files_on_disk(notebook_kernel, tmp_path):
    km, kc = notebook_kernel
    proj = write_files(tmp_path / "proj", {
        "mymod.py": "VALUE = 'old'\n",
        "test_mymod.py": "import mymod\ndef test_value(): assert mymod.VALUE == 'new'\n",
    })
    execute(kc, f"import sys; sys.path.insert(0, {str(proj)!r}); import mymod; assert mymod.VALUE == 'old'")
    (proj / "mymod.py").write_text("VALUE = 'new'\n")
    server = attach(tmp_path, km)
    try:
        r = server.run("-q", cwd=proj)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        server.stop()
    assert evaluate(kc, "mymod.VALUE") == "'old'"  # the notebook's copy is its own business


def wait_for_cell_output(kc, msg_id, text, timeout=60):
    """Reads the notebook's iopub until the cell msg_id prints text: it is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=deadline - time.monotonic())
        if msg["parent_header"].get("msg_id") == msg_id and text in msg["content"].get("text", ""):
            return
    raise AssertionError(f"the cell never printed {text!r}")


def test_a_busy_notebook_makes_the_run_wait_not_fail(notebook_kernel, tmp_path):
    km, kc = notebook_kernel
    server = attach(tmp_path, km)
    try:
        proj = write_files(tmp_path / "proj", {"test_x.py": "def test_x(): pass\n"})
        msg_id = kc.execute("import time; print('CELL STARTED', flush=True); time.sleep(4)")  # a long notebook cell
        wait_for_cell_output(kc, msg_id, "CELL STARTED")
        r = server.run("-q", cwd=proj)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "busy" in r.stderr
    finally:
        server.stop()


def test_threads_in_the_kernel_make_status_say_fork_unsafe_and_runs_descend_from_the_template(notebook_kernel, tmp_path):
    km, kc = notebook_kernel
    lib = write_files(tmp_path / "lib", {"lockmod.py": """
        import sys, threading, time
        # Kept on sys: the fork drops the user's own modules, not the interpreter's.
        LOCK = sys.ltest_test_lock = threading.Lock()
        def hold_forever():
            def run():
                with LOCK:
                    time.sleep(3600)
            threading.Thread(target=run, daemon=True).start()
    """})
    server = attach(tmp_path, km)
    try:
        assert server.status()["fork_safe"] is True or server.status()["fork_unsafe"] == []
        # The notebook starts a thread that holds a lock: a fork of the kernel
        # would copy the lock, held, and no thread to free it.
        execute(kc, f"import sys; sys.path.insert(0, {str(lib)!r}); import lockmod; lockmod.hold_forever()")
        proj = write_files(tmp_path / "proj", {"test_lock.py": "import sys\ndef test_lock(): sys.ltest_test_lock.acquire()\n"})
        # The run comes from the template forked at warm-up (in_kernel/template.py):
        # no lock, no hang, and cold's result (sys has no such attribute there either).
        r = server.client("--timeout", "60", "--", "-q", cwd=proj)
        assert r.returncode == 1 and "AttributeError" in r.stdout, r.stdout + r.stderr
        assert "may hang" not in r.stderr, r.stderr
        status = server.status()
        assert status["fork_safe"] is False and "thread" in status["fork_unsafe"][0]
        text = server.client("--status").stdout
        assert "fork-safe:       no (" in text
    finally:
        server.stop()


def test_jupyter_console_can_inspect_the_servers_warm_kernel(start_server, tmp_path):
    server = start_server(modules=["decimal"])
    connection_file = server.status()["connection_file"]
    code = 'import sys\nprint("WARM" if "decimal" in sys.modules else "COLD")\nwarm_marker = 1\n'
    r = subprocess.run(["jupyter-console", "--existing", connection_file, "--simple-prompt"], input=code,
                       env=server.env, capture_output=True, text=True, timeout=60)
    assert "WARM" in r.stdout, r.stdout + r.stderr
    assert server.proc.poll() is None  # the console left the kernel (and the server) running
    # A cell run in the kernel makes the spare test process stale: the next run forks afresh and still works.
    proj = write_files(tmp_path / "proj", {"test_x.py": "def test_x():\n    assert 'warm_marker' not in globals()\n"})
    r = server.run("-q", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr

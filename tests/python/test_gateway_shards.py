"""gateway_shards.py without a kernel: a real pytest session whose lead asks
a stand-in for the server (the real server's part is shard_job, tested in
tests/unit, and the whole in tests/integration/test_gateway_shards.py):
every test runs once in batches, a worker's held test keeps its module's
fixture, a worker that dies has its tests reported failed, and a node id
this host did not collect fails with its reason."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SHARE = Path(__file__).resolve().parents[2] / "share" / "ltest"

CONFTEST = textwrap.dedent('''
    import json, os
    from ltest.in_test_process.gateway_shards import GatewayShards

    class Server:
        """Hands the lead's own ids out in batches of BATCH (plus EXTRA ids it never collected)."""
        def __init__(self):
            self.queue = None
            self.log = open(os.environ["ASKED"], "a")

        def ask(self, line):
            q = json.loads(line)
            self.log.write(line.decode() + "\\n")
            self.log.flush()
            if q["op"] == "next" and self.queue is None:  # a helper: the ids are its own collection's
                self.queue = json.loads(os.environ["HELPER_IDS"])
            if q["op"] == "finished":
                return b"{}"
            if q["op"] == "ids":
                self.queue = q["ids"] + json.loads(os.environ.get("EXTRA", "[]"))
                return b"{}"
            batches = []
            for _ in range(q.get("idle", 0)):
                if self.queue:
                    n = int(os.environ["BATCH"])
                    batches.append(self.queue[:n])
                    self.queue = self.queue[n:]
            done = not self.queue
            self.log.write(f"handed {len(batches)}\\n")
            self.log.flush()
            return json.dumps({"batches": batches, "done": done, "all_done": done and not batches}).encode()

    def pytest_configure(config):
        config.pluginmanager.register(GatewayShards(os.environ.get("ROLE", "lead"), int(os.environ["WORKERS"]),
                                                    Server().ask), "shards")
''')


def run(tmp_path, files, workers=2, batch=3, extra=(), env=None, args=()):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    import json
    env = dict(os.environ, PYTHONPATH=str(SHARE), WORKERS=str(workers), BATCH=str(batch),
               ASKED=str(tmp_path / "asked"), EXTRA=json.dumps(list(extra)), **(env or {}))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def test_every_test_runs_once_in_batches_with_one_report(tmp_path):
    r = run(tmp_path, {"test_a.py": """
        import pytest
        @pytest.mark.parametrize("n", range(20))
        def test_n(n):
            assert n % 7 != 3
        @pytest.mark.skip(reason="no")
        def test_skipped():
            pass
    """})
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith("3 failed, 17 passed, 1 skipped"), r.stdout
    handed = [int(line.split()[1]) for line in (tmp_path / "asked").read_text().splitlines()
              if line.startswith("handed ")]
    assert sum(handed) == 7  # 21 tests in batches of 3, not one slice per worker
    # The lead's own reports go to the server too (kept for a lead that takes over), as JSON.
    sent = [json.loads(line) for line in (tmp_path / "asked").read_text().splitlines() if line.startswith("{")]
    finished = [e["nodeid"] for q in sent for e in q.get("events", []) if e["event"] == "logfinish"]
    assert len(finished) == len(set(finished)) == 21
    failed = [e["data"] for q in sent for e in q.get("events", [])
              if e["event"] == "logreport" and e["data"]["outcome"] == "failed"]
    assert len(failed) == 3 and all(isinstance(d["longrepr"], dict) for d in failed)


def test_a_held_test_keeps_its_module_fixture(tmp_path):
    # One worker, batches of 3: the module fixture is set up once, not once per batch.
    r = run(tmp_path, {"test_m.py": """
        import os, pytest
        @pytest.fixture(scope="module")
        def shared():
            with open(os.path.join(os.path.dirname(__file__), "setups"), "a") as f:
                f.write("x")
            return 1
        @pytest.mark.parametrize("n", range(10))
        def test_uses(shared, n):
            assert shared == 1
    """}, workers=1, batch=3)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "setups").read_text() == "x"


def test_a_dead_worker_has_its_tests_failed_and_an_unknown_id_fails_with_its_reason(tmp_path):
    r = run(tmp_path, {"test_d.py": """
        import os
        def test_dies():
            os._exit(9)
        def test_after():
            pass
        def test_fine():
            pass
    """}, workers=1, batch=3, extra=["test_d.py::test_elsewhere"])
    assert r.returncode == 1, r.stdout + r.stderr
    # Its whole batch: the test it ran and those it had not reached.
    assert "FAILED test_d.py::test_dies" in r.stdout and "FAILED test_d.py::test_fine" in r.stdout
    assert "the worker running this test died (exit code 9)" in r.stdout
    assert "not run: its worker died (exit code 9) in test_d.py::test_dies" in r.stdout
    assert "test_d.py::test_elsewhere was not collected on this kernel's host" in r.stdout


def test_a_helper_passes_its_reports_on_and_writes_no_file_of_its_own(tmp_path):
    import json
    ids = [f"test_h.py::test_n[{n}]" for n in range(6)]
    r = run(tmp_path, {"test_h.py": """
        import pytest
        @pytest.mark.parametrize("n", range(6))
        def test_n(n):
            assert n != 2
    """}, env={"ROLE": "helper", "HELPER_IDS": json.dumps(ids)}, args=("--junitxml=out.xml",))
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / "out.xml").exists()
    asked = [json.loads(line) for line in (tmp_path / "asked").read_text().splitlines()
             if not line.startswith("handed ")]
    assert asked[-1]["op"] == "finished"
    events = [e for q in asked for e in q.get("events", [])]
    assert sorted(e["nodeid"] for e in events if e["event"] == "logfinish") == sorted(ids)
    failed = [e["data"]["nodeid"] for e in events if e["event"] == "logreport" and e["data"]["outcome"] == "failed"]
    assert failed == ["test_h.py::test_n[2]"]

"""Watch mode: ltest --watch -- ARGS runs again after each burst of
saves under the project root, restarts a run a save interrupts, runs failed
tests first after a failure, skips ignored files, ends on Ctrl-C."""
import os
import select
import signal
import subprocess
import time

import pytest

from conftest import pids_of_session, wait_for, write_files
from zeroconf import world  # noqa: F401 (fixture)

PASSING = "def test_a():\n    assert True\n"
FAILING = "def test_a():\n    assert False\n"


class Watcher:
    """ltest --watch in a session of its own (so Ctrl-C can go to its process
    group, as a terminal sends it), stdout and stderr in one pipe."""

    def __init__(self, world, cwd, *args):
        self.proc = world.popen("--watch", *args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.out = ""

    def wait_for_text(self, text, count=1, timeout=120):
        """Reads until `text` has appeared `count` times in all output so far."""
        deadline = time.monotonic() + timeout
        while self.out.count(text) < count:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not select.select([self.proc.stdout], [], [], 0)[0]:
                raise AssertionError(f"no {count}x {text!r} in:\n{self.out}")
            if select.select([self.proc.stdout], [], [], min(left, 0.5))[0]:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk and self.proc.poll() is not None:
                    continue
                self.out += chunk.decode(errors="replace")
        return self.out

    def ctrl_c(self, between_runs=True):
        """Ctrl-C; between_runs: first wait until the last run's client has exited."""
        if between_runs:
            assert wait_for(lambda: pids_of_session(self.proc.pid) == [self.proc.pid], 60), self.out
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(timeout=60)
        self.out += self.proc.stdout.read().decode(errors="replace")
        return code

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def watcher(world):
    started = []

    def start(cwd, *args):
        w = Watcher(world, cwd, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.close()


def test_a_save_runs_again_and_ctrl_c_ends(world, watcher, tmp_path):
    proj = write_files(tmp_path / "proj", {"test_a.py": PASSING})
    w = watcher(proj, "--", "-q")
    w.wait_for_text("1 passed")
    saved = time.monotonic()
    (proj / "test_a.py").write_text(FAILING)
    w.wait_for_text("test_a.py changed; running the tests again")
    w.wait_for_text("1 failed")
    latency = time.monotonic() - saved
    print(f"save to result: {latency:.3f} s")
    assert latency < 10, f"{latency:.3f} s from the save to the result"
    # After a failure the failed tests run first (--ff), and the line says so.
    (proj / "test_a.py").write_text(PASSING)
    w.wait_for_text("changed; running the tests again (failed tests first)")
    w.wait_for_text("1 passed", count=2)
    assert w.ctrl_c() == 0, w.out  # Ctrl-C between runs: the last run's exit code


def test_ten_saves_in_100_ms_are_one_run(world, watcher, tmp_path):
    proj = write_files(tmp_path / "proj", {"test_a.py": PASSING, "test_b.py": PASSING.replace("_a", "_b")})
    w = watcher(proj, "--", "-q")
    w.wait_for_text("2 passed")
    start = time.monotonic()
    for i in range(10):
        (proj / "test_a.py").write_text(PASSING + f"# save {i}\n")
        time.sleep(0.01)
    burst = time.monotonic() - start
    w.wait_for_text("2 passed", count=2)
    # A later save of another file is the next run: nothing came in between.
    (proj / "test_b.py").write_text(PASSING.replace("_a", "_b") + "# saved\n")
    w.wait_for_text("test_b.py changed")
    w.wait_for_text("2 passed", count=3)
    reruns = [line for line in w.out.splitlines() if "changed;" in line]
    assert reruns == ["ltest: test_a.py changed; running the tests again",
                      "ltest: test_b.py changed; running the tests again"], (burst, w.out)
    assert w.ctrl_c() == 0


def test_a_save_during_a_run_restarts_it_and_ctrl_c_during_a_run_is_130(world, watcher, tmp_path):
    # Interrupted: see conftest.py, interrupted sleeps.
    slow = "import sys, time\ndef test_slow():\n    print('slow test started', flush=True)\n    for _ in range(1200): time.sleep(0.05)\n"
    proj = write_files(tmp_path / "proj", {"test_slow.py": slow})
    w = watcher(proj, "--", "-q", "-s")
    w.wait_for_text("slow test started")
    (proj / "helper.py").write_text("X = 1\n")
    w.wait_for_text("helper.py changed; restarting the run")
    w.wait_for_text("slow test started", count=2)
    assert w.ctrl_c(between_runs=False) == 130, w.out


def test_ignored_files_do_not_run_again_and_new_directories_are_watched(world, watcher, tmp_path):
    proj = write_files(tmp_path / "proj", {"test_a.py": PASSING, ".gitignore": "*.dat\nbuild/\n"})
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    (proj / "build").mkdir()
    w = watcher(proj, "--", "-q")
    w.wait_for_text("1 passed")
    (proj / "data.dat").write_text("ignored\n")
    (proj / "build" / "out.txt").write_text("ignored\n")
    (proj / "__pycache__").mkdir(exist_ok=True)
    (proj / "__pycache__" / "x.pyc").write_text("ignored\n")
    (proj / "sub").mkdir()
    w.wait_for_text("sub/ changed")
    w.wait_for_text("1 passed", count=2)
    (proj / "sub" / "test_c.py").write_text(PASSING.replace("_a", "_c"))
    w.wait_for_text("sub/test_c.py changed")
    w.wait_for_text("2 passed")
    reruns = [line for line in w.out.splitlines() if "changed;" in line]
    assert len(reruns) == 2 and not any("dat" in r or "build" in r or "pycache" in r for r in reruns), w.out
    assert w.ctrl_c() == 0


def test_watch_with_workers(world, watcher, tmp_path):
    files = {f"test_{i}.py": PASSING.replace("_a", f"_{i}") for i in range(4)}
    proj = write_files(tmp_path / "proj", files)
    w = watcher(proj, "-n", "2", "--", "-q")
    w.wait_for_text("4 passed")
    (proj / "test_0.py").write_text(FAILING)
    w.wait_for_text("1 failed, 3 passed")
    assert w.ctrl_c() == 1, w.out  # the last run failed


def test_watch_says_it_waits_names_the_file_sed_edited_and_restarts_on_a_line_of_its_own(world, watcher, tmp_path):
    # Issue 28: "waiting for changes" after each run; sed -i's temporary (sedXXXXXX, renamed over the
    # file) is not named, the file is; a restart's line is not the progress dots' line.
    slow = ("import os, time\ndef test_fast():\n    pass\n\ndef test_slow():\n"
            "    if os.environ.get('SLOW') and os.path.exists('slow'):\n"
            "        open(os.environ['SLOW'], 'w').close()\n"
            "        for _ in range(1200): time.sleep(0.05)\n")
    proj = write_files(tmp_path / "proj", {"test_a.py": PASSING, "test_slow.py": slow})
    started = tmp_path / "slow-started"  # outside the project: not a change
    world.env["SLOW"] = str(started)
    w = watcher(proj, "--", "-q", "-p", "no:cacheprovider")
    w.wait_for_text("3 passed")
    w.wait_for_text(f"ltest: waiting for changes under {proj} (Ctrl-C ends)")
    subprocess.run(["sed", "-i", "s/assert True/assert 1/", "test_a.py"], cwd=proj, check=True)
    w.wait_for_text("3 passed", count=2)
    w.wait_for_text("waiting for changes", count=2)
    reruns = [line for line in w.out.splitlines() if "changed;" in line]
    assert reruns == ["ltest: test_a.py changed; running the tests again"], w.out
    # A save while the dots are being written (test_fast's "." printed, test_slow running).
    (proj / "slow").write_text("")
    w.wait_for_text("slow changed; running the tests again")
    assert wait_for(started.exists, 120), w.out
    (proj / "helper.py").write_text("X = 1\n")
    w.wait_for_text("helper.py changed; restarting the run")
    restart = [line for line in w.out.splitlines() if "restarting the run" in line]
    assert restart == ["ltest: helper.py changed; restarting the run"], w.out
    (proj / "slow").unlink()
    w.ctrl_c(between_runs=False)

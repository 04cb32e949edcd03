"""Soak: one server, 1,000 sequential runs and rounds of 8 concurrent clients.

Before and after, the server's and the kernel's open file descriptors, their
RSS and the kernel's zombie children are recorded; nothing may grow beyond
noise. The figures are printed (pytest -s) and written to
$LTEST_BUILD_DIR/soak.json when that is set (ctest sets it).
LTEST_SOAK_RUNS changes the number of sequential runs (default 1000).
"""
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from conftest import children_states, write_files, zombies_of

RUNS = int(os.environ.get("LTEST_SOAK_RUNS", "1000"))
ROUNDS = 5               # of 8 concurrent clients, spread over the sequential runs
CLIENTS = 8
RSS_GROWTH = 0.05        # relative, plus:
RSS_SLACK_KB = 2048      # absolute slack, RSS is noisy
FD_SLACK = 2

SUITE = {"test_tiny.py": """
    def test_one():
        assert 1 + 1 == 2

    def test_two():
        print("some output")
"""}


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def snapshot(server, kernel):
    time.sleep(0.5)  # the kernel reaps the last test process and forks its spare after the reply
    return {
        "server_fds": fd_count(server.proc.pid),
        "kernel_fds": fd_count(kernel),
        "server_rss_kb": rss_kb(server.proc.pid),
        "kernel_rss_kb": rss_kb(kernel),
        "kernel_children": len(children_states(kernel)),
        "kernel_zombies": len(zombies_of(kernel)),
        "server_zombies": len(zombies_of(server.proc.pid)),
    }


def concurrent_round(server, root):
    procs = [server.popen("--", "-q", cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(CLIENTS)]
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and "2 passed" in out, out + err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_soak_no_growth(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path / "suite", SUITE)
    kernel = server.status()["kernel_pid"]
    cold = snapshot(server, kernel)

    # Warm up first: the first runs fill caches (imports, the spare test
    # process, ZeroMQ buffers) that are not leaks.
    for _ in range(20):
        assert server.run("-q", cwd=root).returncode == 0
    concurrent_round(server, root)
    before = snapshot(server, kernel)

    times = []
    rounds_every = max(1, RUNS // ROUNDS)
    rounds = 0
    start = time.monotonic()
    for i in range(RUNS):
        t0 = time.monotonic()
        r = server.run("-q", cwd=root)
        times.append(time.monotonic() - t0)
        assert r.returncode == 0 and "2 passed" in r.stdout, f"run {i}: {r.stdout}{r.stderr}"
        if (i + 1) % rounds_every == 0 and rounds < ROUNDS:
            concurrent_round(server, root)
            rounds += 1
    soak_seconds = time.monotonic() - start
    after = snapshot(server, kernel)

    status = server.status()
    expected_runs = 20 + CLIENTS + RUNS + CLIENTS * rounds
    figures = {
        "runs": RUNS, "concurrent_rounds": rounds, "clients_per_round": CLIENTS,
        "soak_seconds": round(soak_seconds, 1),
        "per_run_ms": {"mean": round(1000 * statistics.mean(times), 1),
                       "median": round(1000 * statistics.median(times), 1),
                       "p95": round(1000 * sorted(times)[int(0.95 * len(times)) - 1], 1),
                       "max": round(1000 * max(times), 1)},
        "cold": cold, "before": before, "after": after,
        "server_runs_counted": status["runs"], "kernel_restarts": status["restarts"],
    }
    print("\nsoak figures:\n" + json.dumps(figures, indent=1))
    if os.environ.get("LTEST_BUILD_DIR"):
        Path(os.environ["LTEST_BUILD_DIR"], "soak.json").write_text(json.dumps(figures, indent=1) + "\n")

    assert status["kernel_pid"] == kernel and status["restarts"] == 0
    assert status["runs"] == expected_runs
    for who in ("server", "kernel"):
        assert after[f"{who}_fds"] <= before[f"{who}_fds"] + FD_SLACK, \
            f"{who} fds {before[who + '_fds']} -> {after[who + '_fds']}"
        limit = before[f"{who}_rss_kb"] * (1 + RSS_GROWTH) + RSS_SLACK_KB
        assert after[f"{who}_rss_kb"] <= limit, \
            f"{who} RSS {before[who + '_rss_kb']} kB -> {after[who + '_rss_kb']} kB (limit {limit:.0f})"
    assert after["kernel_zombies"] == 0 and after["server_zombies"] == 0, after
    assert after["kernel_children"] <= max(before["kernel_children"], 1), after  # at most the spare

"""The parallel section of bench/run: one bigger suite run cold, in N xdist
workers, through ltest and through `ltest -n N`, interleaved; whether all
four report the same outcome; how many CPUs were free around the runs."""
import os
import re
import subprocess
import time

from bench_common import PY, log, loadavg, median, signals_ignored, suite_dir, suite_env, summary
from bench_processes import free_port, last_line, vm_rss_kb
from ltest_server import Server


def outcome_counts(line):
    """pytest's summary line -> {"passed": 264, "failed": 2, ...} (warnings and the time left out)."""
    counts = {}
    for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b", line):
        counts["errors" if word == "error" else word] = int(n)
    return counts


def summary_seconds(line):
    """The session time pytest prints (`... in 1.80s`), in ms; None if absent."""
    m = re.search(r" in ([0-9.]+)s\b", line)
    return float(m.group(1)) * 1000.0 if m else None


def timed_outcome(cmd, cwd, env, what):
    """Wall time (ms) of one run, its exit code and pytest's summary line. Failing tests
    (exit code 1) are an outcome to compare, not an error; anything else fails the benchmark."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    ms = (time.perf_counter() - t0) * 1000.0
    if p.returncode not in (0, 1):
        detail = (p.stdout + p.stderr).decode(errors="replace")[-2000:]
        raise RuntimeError(f"{what} exited with {p.returncode}: {' '.join(cmd)}\n{detail}")
    return ms, p.returncode, last_line(p.stdout.decode(errors="replace"))


def xdist_available(env):
    p = subprocess.run([PY, "-c", "import xdist"], env=env, stdin=subprocess.DEVNULL, capture_output=True)
    return p.returncode == 0


def parallelism(n, burn_s=0.1):
    """How many CPUs n processes get right now: n forks each burn burn_s of CPU time
    (pure Python, nothing shared); returns n * burn_s / wall: n on n idle cores, less when shared.
    On a shared machine this tells whether a run in n workers could go faster at all."""
    t0 = time.perf_counter()
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:  # nothing but arithmetic here: safe in a fork of this threaded process
            try:
                end, x = time.process_time() + burn_s, 0
                while time.process_time() < end:
                    x += 1
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return n * burn_s / (time.perf_counter() - t0)


def the_four(server, suite, args, n):
    """key -> (label, command); the order is the order within every repetition."""
    return {
        "cold": ("cold pytest", [PY, "-m", "pytest", *args]),
        "xdist": (f"pytest -n {n}", [PY, "-m", "pytest", "-q", "-n", n, suite]),
        "ltest": ("ltest", server.ltest_cmd("--", *args)),
        "ltest_n": (f"ltest -n {n}", server.ltest_cmd("-n", n, "--", *args)),
    }


def repetitions(name, methods, suite, env, opts):
    """Every method once per repetition: wall times, pytest's own `in X s`,
    (exit code, summary line) of every run, and parallelism(N) after each."""
    wall = {k: [] for k in methods}
    session = {k: [] for k in methods}
    outcomes = {k: [] for k in methods}
    cpus = []
    for i in range(opts.parallel_reps):
        log(f"[{name}] repetition {i + 1}/{opts.parallel_reps}")
        for key, (label, cmd) in methods.items():
            ms, code, line = timed_outcome(cmd, suite, env, label)
            wall[key].append(ms)
            outcomes[key].append((code, line))
            if summary_seconds(line) is not None:
                session[key].append(summary_seconds(line))
        cpus.append(parallelism(opts.workers))
    return wall, session, outcomes, cpus


def compare_outcomes(name, outcomes, res):
    """Do all four agree, in every repetition, on what passed and failed (and the exit code)?"""
    seen = {}
    for key, runs in outcomes.items():
        for code, line in runs:
            seen.setdefault((code, tuple(sorted(outcome_counts(line).items()))), []).append(key)
    res["outcome"] = {k: runs[-1][1] for k, runs in outcomes.items()}
    res["outcome_counts"] = {k: outcome_counts(runs[-1][1]) for k, runs in outcomes.items()}
    res["exit_codes"] = {k: sorted({c for c, _ in runs}) for k, runs in outcomes.items()}
    res["outcomes_agree"] = len(seen) == 1
    if not res["outcomes_agree"]:
        res["outcome_variants"] = [{"exit_code": code, "counts": dict(counts), "runs": sorted(set(keys)),
                                    "n": len(keys)} for (code, counts), keys in seen.items()]
        log(f"[{name}] WARNING: the four do not report the same pass/fail counts: {res['outcome_variants']}")


def record_times(methods, wall, session, cpus, res):
    for key in methods:
        res[key + "_ms"] = summary(wall[key])
        res[key + "_session_ms"] = summary(session[key])
    m = {k: median(wall[k]) for k in methods}
    res["ratios"] = {"cold_over_ltest": m["cold"] / m["ltest"], "xdist_over_ltest_n": m["xdist"] / m["ltest_n"],
                     "ltest_over_ltest_n": m["ltest"] / m["ltest_n"], "cold_over_xdist": m["cold"] / m["xdist"],
                     "cold_over_ltest_n": m["cold"] / m["ltest_n"]}
    res["labels"] = {k: label for k, (label, _) in methods.items()}
    res["cpus_available"] = summary(cpus)


def bench_parallel(name, modules, opts, ltest, env, workdir):
    suite, rel = suite_dir(name)
    n = str(opts.workers)
    args = ["-q", suite]
    env = suite_env(env, name, workdir)
    port = opts.port or free_port()
    res = {"suite": rel, "preload": modules, "workers": opts.workers, "port": port,
           "pytest_args": ["-q", rel], "reps": opts.parallel_reps, "loadavg_before": loadavg()}
    server = None
    try:
        log(f"[{name}] starting the ltest server (port {port})")
        server = Server(ltest, port, modules, env, os.path.join(workdir, name + "-server.log"))
        res["ready_ms"] = server.wait_ready() * 1000.0
        res["preloaded_in_kernel"] = server.status().get("preloaded")
        methods = the_four(server, suite, args, n)
        res["commands"] = {k: cmd for k, (_, cmd) in methods.items()}
        # Warm-up: the server's first runs (cold and xdist need none: each run is a fresh process).
        for key in ("ltest", "ltest_n"):
            timed_outcome(methods[key][1], suite, env, methods[key][0])
        wall, session, outcomes, cpus = repetitions(name, methods, suite, env, opts)
        res["runs_served"] = server.status().get("runs")
        res["kernel_rss_kb"] = vm_rss_kb(server.kernel_pid) if server.kernel_pid else None
    finally:
        with signals_ignored():
            if server is not None:
                server.stop()
    compare_outcomes(name, outcomes, res)
    record_times(methods, wall, session, cpus, res)
    return res

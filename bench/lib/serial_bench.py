"""One serial suite of bench/run: cold pytest, the fork floor and ltest warm,
interleaved, then the server's start to ready and what it is made of."""
import json
import os
import subprocess
import time

from bench_common import BENCH, KERNEL, PY, log, median, signals_ignored, suite_dir, suite_env, summary
from bench_processes import free_port, last_line, timed_run, vm_rss_kb
from floor_client import Floor
from ltest_server import Server

# The samples of one suite, in the order of its JSON file: key -> list of ms.
SAMPLE_KEYS = ("cold_ms", "floor_ms", "floor_gc_frozen_ms", "runtime_no_kernel_ms", "ltest_ms",
               "ltest_in_kernel_ms", "status_rtt_ms", "client_start_ms", "ltest_back_to_back_ms")


def test_process_memory(server, cold_cmd, args, suite, env, workdir, reps=3):
    """What one test process costs in memory, measured at the end of its run
    by a plugin (lib/cow_probe.py): an ltest one (after a pause, so its spare
    practised first) vs a cold pytest one. Medians, kB."""
    out = os.path.join(workdir, "cow.json")
    probe_env = dict(env, PYTHONPATH=os.path.join(BENCH, "lib"), LTEST_BENCH_COW_OUT=out)
    cold_probe = [*cold_cmd[:3], "-p", "cow_probe", *cold_cmd[3:]]  # PY -m pytest -p cow_probe ARGS
    found = {"ltest": [], "cold": []}
    for _ in range(reps):
        for kind, cmd in (("ltest", server.ltest_cmd("--", "-p", "cow_probe", *args)), ("cold", cold_probe)):
            time.sleep(0.3)
            if os.path.exists(out):
                os.unlink(out)
            subprocess.run(cmd, cwd=suite, env=probe_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600)
            try:
                with open(out) as f:
                    found[kind].append(json.load(f))
            except (OSError, ValueError):
                log(f"WARNING: no memory probe from the {kind} run")
    return {kind: {key: median([m[key] for m in ms]) for key in ms[0]} if ms else None for kind, ms in found.items()}


class SerialBench:
    """One suite's server, fork floor, samples and result (`res`, the JSON)."""

    def __init__(self, name, modules, opts, ltest, env, workdir):
        self.name, self.modules, self.opts, self.ltest, self.workdir = name, modules, opts, ltest, workdir
        self.suite, rel = suite_dir(name)
        self.args = ["-q", self.suite]
        self.env = suite_env(env, name, workdir)
        self.log_path = os.path.join(workdir, name + "-server.log")
        self.cold_cmd = [PY, "-m", "pytest", *self.args]
        self.port = opts.port or free_port()
        self.res = {"suite": rel, "preload": modules, "pytest_args": ["-q", rel], "port": self.port}
        self.samples = {key: [] for key in SAMPLE_KEYS}
        self.practised, self.prestarted, self.ready = [], [], []
        self.servers, self.floor = [], None

    def run(self):
        try:
            log(f"[{self.name}] starting the ltest server (port {self.port}) and the fork-floor process")
            server = self.start_server()
            self.floor = Floor(self.modules, self.args, self.suite, self.env)
            self.res["preloaded_in_kernel"] = server.status().get("preloaded")
            self.warm_up_and_compare(server)
            for i in range(self.opts.reps):
                log(f"[{self.name}] repetition {i + 1}/{self.opts.reps}")
                self.repetition(server)
            self.res["test_process_memory_kb"] = test_process_memory(server, self.cold_cmd, self.args, self.suite,
                                                                     self.env, self.workdir)
            self.record_processes(server)
            self.floor.close()
            self.floor = None
            server.stop()
            self.restart_servers()
            imports, launches = self.references()
        finally:
            with signals_ignored():
                if self.floor is not None:
                    self.floor.close()
                for s in self.servers:
                    s.stop()
        return self.result(imports, launches)

    def start_server(self):
        server = Server(self.ltest, self.port, self.modules, self.env, self.log_path)
        self.servers.append(server)
        self.ready.append(server.wait_ready())
        return server

    def run_ltest(self, server):
        return timed_run(server.ltest_cmd("--", *self.args), self.suite, self.env, "ltest")

    def warm_up_and_compare(self, server):
        """Warm-up, once each, and a check that all three agree on the outcome."""
        _, p = timed_run(self.cold_cmd, self.suite, self.env, "cold pytest", capture=True)
        cold_outcome = last_line(p.stdout.decode(errors="replace"))
        out_file = os.path.join(self.workdir, self.name + "-floor-warmup.txt")
        self.floor.run(out_file)
        with open(out_file, errors="replace") as f:
            floor_outcome = last_line(f.read())
        _, p = timed_run(server.ltest_cmd("--", *self.args), self.suite, self.env, "ltest", capture=True)
        ltest_outcome = last_line(p.stdout.decode(errors="replace"))
        outcomes = {"cold": cold_outcome, "floor": floor_outcome, "ltest": ltest_outcome}
        self.res["outcome"] = outcomes
        if len({o.split(" in ")[0] for o in outcomes.values()}) != 1:
            log(f"[{self.name}] WARNING: outcomes differ: {outcomes}")

    def repetition(self, server):
        """Interleaved: the machine's noise hits all methods alike."""
        s, suite, env = self.samples, self.suite, self.env
        s["cold_ms"].append(timed_run(self.cold_cmd, suite, env, "cold pytest"))
        self.in_kernel_run(server)
        s["floor_ms"].append(self.floor.run())
        s["floor_gc_frozen_ms"].append(self.floor.run(frozen=True))
        ms = self.floor.run_runtime()
        if ms is not None:
            s["runtime_no_kernel_ms"].append(ms)
        s["ltest_ms"].append(self.run_ltest(server))
        for _ in range(self.opts.status_per_rep):
            s["status_rtt_ms"].append(timed_run(server.ltest_cmd("--status"), suite, env, "ltest --status"))
            s["client_start_ms"].append(timed_run([self.ltest, "--version"], suite, env, "ltest --version"))
        # A script's loop: runs with no idle time between them, so no spare has
        # practised (spare.py); the bound on what a run costs without practice.
        for _ in range(3):
            s["ltest_back_to_back_ms"].append(self.run_ltest(server))

    def in_kernel_run(self, server):
        """Not timed end to end: the kernel's own account of the run (fork, pytest, relay),
        after the cold run, as the timed warm run comes after the floor's: both find
        their spare practised, as a person's runs (seconds apart) do."""
        p = subprocess.run(server.ltest_cmd("--json", "--", *self.args), cwd=self.suite, env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        try:
            reply = json.loads(last_line(p.stdout))
            self.samples["ltest_in_kernel_ms"].append(reply["duration"] * 1000.0)
            self.practised.append(bool(reply.get("practised")))
            self.prestarted.append(bool(reply.get("prestarted")))
        except (ValueError, KeyError, TypeError):
            pass

    def record_processes(self, server):
        """The server's and the kernel's pids and memory after the runs, and the floor's."""
        st = server.status()
        res = self.res
        res["server_pid"], res["kernel_pid"] = st.get("server_pid"), st.get("kernel_pid")
        res["kernel_exe"] = os.path.realpath(f"/proc/{server.kernel_pid}/exe") if server.kernel_pid else None
        res["runs_served"] = st.get("runs")
        res["server_rss_kb"] = vm_rss_kb(server.proc.pid)
        res["kernel_rss_kb"] = vm_rss_kb(server.kernel_pid) if server.kernel_pid else None
        res["floor_rss_kb"] = self.floor.ask("rss").get("rss_kb")
        res["floor_import_s"] = self.floor.import_s

    def restart_servers(self):
        """Start to ready, again (the first start counted)."""
        for i in range(1, self.opts.ready_reps):
            log(f"[{self.name}] server start {i + 1}/{self.opts.ready_reps}")
            self.start_server().stop()

    def references(self):
        """What start to ready is made of if done by hand: a cold import and a bare kernel launch (ms)."""
        log(f"[{self.name}] reference: cold `import {' '.join(self.modules)}` and a bare kernel launch")
        n = self.opts.ready_reps
        imp_code = "; ".join(f"import {m}" for m in self.modules)
        imports = [timed_run([PY, "-c", imp_code], self.suite, self.env, "cold import") for _ in range(n)]
        p = subprocess.run([PY, os.path.join(BENCH, "lib", "kernel_launch.py"), str(n), KERNEL],
                           env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"kernel_launch.py failed: {p.stderr[-2000:]}")
        return imports, [s * 1000.0 for s in json.loads(last_line(p.stdout))["seconds"]]

    def result(self, imports, launches):
        res, s, ready = self.res, self.samples, self.ready
        res.update({key: summary(s[key]) for key in SAMPLE_KEYS})
        res.update({
            "in_kernel_runs_practised": [sum(self.practised), len(self.practised)],
            "in_kernel_runs_in_a_spare": [sum(self.prestarted), len(self.prestarted)],
            "ready_ms": summary([r * 1000.0 for r in ready]), "cold_import_ms": summary(imports),
            "kernel_launch_ms": summary(launches),
        })
        c, f, w = median(s["cold_ms"]), median(s["floor_ms"]), median(s["ltest_ms"])
        res["ratios"] = {"ltest_over_floor": w / f, "overhead_ms": w - f, "cold_over_ltest": c / w,
                         "cold_over_floor": c / f,
                         "ready_over_import_plus_launch": median(ready) * 1000.0 / (median(imports) + median(launches))}
        return res


def bench_suite(name, modules, opts, ltest, env, workdir):
    return SerialBench(name, modules, opts, ltest, env, workdir).run()

"""A pytest plugin for bench/run (`-p cow_probe`, bench/lib on PYTHONPATH):
at the end of the run it writes the test process's own memory, from
/proc/self/smaps_rollup, to $LTEST_BENCH_COW_OUT as JSON (kB). In an ltest
test process Private_Dirty is what the run copied on write from the kernel
(plus what it allocated); in a cold pytest process everything is private."""
import json
import os


def pytest_unconfigure(config):
    out = os.environ.get("LTEST_BENCH_COW_OUT")
    if not out:
        return
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    with open(out, "w") as f:
        json.dump({k: fields.get(k) for k in ("Rss", "Pss", "Private_Dirty", "Private_Clean", "Shared_Dirty")}, f)

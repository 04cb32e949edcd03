"""bench/run's report on stdout: the main table of the serial suites, start
to ready, memory, where a warm run's time goes, and the parallel section."""


def fmt_ms(x):
    return f"{x:.0f} ms" if x >= 10 else f"{x:.1f} ms"


def mb(kb):
    return f"{kb / 1024:.0f} MB" if kb is not None else "?"


def print_report(results, meta):
    if not results:
        return
    print_main_table(results, meta)
    print_start_to_ready(results)
    print_memory(results)
    print_time_breakdown(results)
    print_outcomes(results)


def print_main_table(results, meta):
    """The main table: one line per suite."""
    print()
    print(f"ltest benchmark: medians of {meta['reps']} runs ({meta['ready_reps']} server starts); "
          f"{meta['cpus']} CPUs, load {meta['loadavg_before']} before; pytest plugins: {meta['plugins']}")
    print(f"stack: {meta['python']} (Python {meta.get('python_version')}, pytest {meta.get('pytest_version')})"
          + (f"; not on this stack: {', '.join(meta['missing_suites'])}" if meta.get("missing_suites") else ""))
    hdr = (f"{'suite':<15}{'cold pytest':>12}{'fork floor':>12}{'ltest warm':>12}{'ltest/floor':>13}"
           f"{'overhead':>10}{'cold/ltest':>12}{'status rtt':>12}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        ra = r["ratios"]
        print(f"{r['suite'].split('/')[-1]:<15}{fmt_ms(r['cold_ms']['median']):>12}{fmt_ms(r['floor_ms']['median']):>12}"
              f"{fmt_ms(r['ltest_ms']['median']):>12}{ra['ltest_over_floor']:>12.2f}x{ra['overhead_ms']:>+8.0f} ms"
              f"{ra['cold_over_ltest']:>11.1f}x{fmt_ms(r['status_rtt_ms']['median']):>12}")
    print("status rtt: `ltest -p PORT --status` from spawn to exit; the client process alone (`ltest --version`): "
          + ", ".join(f"{r['suite'].split('/')[-1]} {fmt_ms(r['client_start_ms']['median'])}" for r in results))


def print_start_to_ready(results):
    """`ltest -l` launch to ready vs what it is made of."""
    print()
    print("start to ready (`ltest -l` launch to its ready line) vs cold import + bare kernel launch:")
    for r in results:
        name = r["suite"].split("/")[-1]
        imp, launch, ready = r["cold_import_ms"]["median"], r["kernel_launch_ms"]["median"], r["ready_ms"]["median"]
        parts = ", ".join(f"{p['module']} {p['seconds'] * 1000:.0f} ms" for p in (r.get("preloaded_in_kernel") or []))
        print(f"  {name:<15}{fmt_ms(ready):>9}  vs  import {imp:.0f} ms + kernel launch {launch:.0f} ms = "
              f"{imp + launch:.0f} ms  ({r['ratios']['ready_over_import_plus_launch']:.2f}x)"
              f"   [in kernel: {parts}]")


def print_memory(results):
    """The processes' VmRSS, and one test process's own memory."""
    print()
    print("memory (VmRSS after the runs):")
    for r in results:
        name = r["suite"].split("/")[-1]
        print(f"  {name:<15}server (ltest) {mb(r['server_rss_kb']):>7}   kernel {mb(r['kernel_rss_kb']):>7}"
              f"   fork-floor process {mb(r['floor_rss_kb']):>7}")
    print("memory of one test process at the end of its run (smaps_rollup; median of 3):")
    for r in results:
        mem = r.get("test_process_memory_kb") or {}
        lt, cd = mem.get("ltest"), mem.get("cold")
        if lt and cd:
            print(f"  {r['suite'].split('/')[-1]:<15}ltest: private dirty {mb(lt['Private_Dirty']):>7} "
                  f"(copy-on-write from the kernel, and its own), PSS {mb(lt['Pss'])}; "
                  f"cold pytest: private dirty {mb(cd['Private_Dirty'])}, PSS {mb(cd['Pss'])}")


def print_time_breakdown(results):
    """Where a warm run's time goes, from the floor to the client."""
    print()
    print("where a warm run's time goes (medians):")
    hdr2 = (f"  {'suite':<15}{'fork floor':>11}{'+gc.freeze':>12}{'ltest.run, no kernel':>22}"
            f"{'in server':>11}{'end to end':>12}")
    print(hdr2)
    for r in results:
        rt, ik = r.get("runtime_no_kernel_ms"), r.get("ltest_in_kernel_ms")
        print(f"  {r['suite'].split('/')[-1]:<15}{fmt_ms(r['floor_ms']['median']):>11}"
              f"{fmt_ms(r['floor_gc_frozen_ms']['median']):>12}{fmt_ms(rt['median']) if rt else '-':>22}"
              f"{fmt_ms(ik['median']) if ik else '-':>11}{fmt_ms(r['ltest_ms']['median']):>12}")
    print("  (+gc.freeze: the floor with gc.freeze() in the child; ltest.run, no kernel: ltest's runtime forking\n"
          "   from the floor process; in server: the run_reply duration, request to answer; end to end: the ltest client's wall time)")
    for r in results:
        done, total = r["in_kernel_runs_practised"]
        spared, _ = r.get("in_kernel_runs_in_a_spare", (0, total))
        print(f"  {r['suite'].split('/')[-1]}: runs back to back (a script's loop, no idle time for the spare to "
              f"practise): {fmt_ms(r['ltest_back_to_back_ms']['median'])} end to end; of {total} timed runs, "
              f"{spared} found a spare, {done} a practised one")


def print_outcomes(results):
    print()
    print("outcomes: " + "; ".join(f"{r['suite'].split('/')[-1]}: {r['outcome']['ltest']}" for r in results))


def print_parallel_report(presults, meta):
    for r in presults:
        name, labels, ra = r["suite"].split("/")[-1], r["labels"], r["ratios"]
        keys = list(labels)
        total = sum(r["outcome_counts"]["ltest"].values())
        print()
        print(f"parallel: {name} ({total} tests), {r['workers']} workers; medians of {r['reps']} runs, "
              f"interleaved; load {r['loadavg_before']} before")
        print(f"  {'':<26}" + "".join(f"{labels[k]:>14}" for k in keys))
        print(f"  {'wall (spawn to exit)':<26}" + "".join(f"{fmt_ms(r[k + '_ms']['median']):>14}" for k in keys))
        print(f"  {'pytest session (`in Xs`)':<26}" + "".join(
            f"{fmt_ms(r[k + '_session_ms']['median']) if r[k + '_session_ms'] else '-':>14}" for k in keys))
        print(f"  cold/ltest {ra['cold_over_ltest']:.2f}x   {labels['xdist']} / {labels['ltest_n']} "
              f"{ra['xdist_over_ltest_n']:.2f}x   ltest / {labels['ltest_n']} {ra['ltest_over_ltest_n']:.2f}x"
              f"   (cold / {labels['xdist']} {ra['cold_over_xdist']:.2f}x, cold / {labels['ltest_n']} "
              f"{ra['cold_over_ltest_n']:.2f}x)")
        ca = r["cpus_available"]
        print(f"  CPUs free for {r['workers']} processes ({r['workers']} x 100 ms busy loops after each repetition): "
              f"median {ca['median']:.2f} of {r['workers']} (min {ca['min']:.2f}, max {ca['max']:.2f}; "
              f"{r['workers']} = idle cores, 1 = one core's worth, less = not even that)")
        if r["outcomes_agree"]:
            print(f"  outcomes: all four report the same in every run: {r['outcome']['ltest']}")
        else:
            print("  WARNING: the four do not report the same pass/fail counts: " + "; ".join(
                f"{', '.join(labels[k] for k in v['runs'])}: exit {v['exit_code']}, "
                + (", ".join(f"{c} {w}" for w, c in v['counts'].items()) or "no counts") + f" ({v['n']} runs)"
                for v in r["outcome_variants"]))

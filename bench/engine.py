"""Benchmark: the Ray engine against the local engine, same machine, same inputs, one run.

For each size, short chat examples (real words from the public samples, 5% exact and 5%
near copies injected: ``bench/dedup.py``'s generator) go through ``validate``, ``dedup``
and ``split`` on both engines, each run in a fresh Python process calling
:mod:`curate.engine` (the Ray one starts a local Ray instance with all cores, as
``--engine ray`` without an address does). Reported per run: wall time, CPU time of the
process tree (driver, pool or Ray workers, Ray's own daemons), peak RSS of the driver and
of the largest other process (a pool worker, a Ray worker or Ray's object store), and
Ray/local ratios; "private" is a process's ``RssAnon`` (without the object-store pages a
Ray process maps). Then a Ray-only dedup at a larger size: the driver's peak RSS, and how
the largest worker's grows with the data. Ray dedup runs print their steps' wall time and
the driver's memory (``CURATE_RAY_TIMING``).

    python bench/engine.py                           # 100,000 on both engines, 300,000 dedup on Ray
    python bench/engine.py --sizes 50000 --ray-dedup 0
    python bench/engine.py --sizes 1000000 --ray-dedup 5000000 --data-dir /tmp/big  # keep inputs
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PAGE = os.sysconf("SC_PAGE_SIZE")
#: what measure() adds to a run's own result
MEASURES = ("wall", "cpu", "driver_mib", "worker_mib", "worker_anon_mib", "driver_anon_mib")
TICK = os.sysconf("SC_CLK_TCK")

RUN = r"""
import json, sys
from curate.engine import dedup, split, validate
stage, engine, src, out, near = sys.argv[1:6]
if stage == "validate":
    r = validate([src], engine=engine).to_dict()
    res = {"examples": r["n_examples"], "findings": sum(r["findings_by_code"].values())}
elif stage == "dedup":
    s = dedup([src], out + ".jsonl", engine=engine).to_dict()
    res = {"examples": s["read"], "kept": s["kept"], "clusters": s["clusters"]}
else:
    from curate.split import SplitOptions
    m = split(src, out, SplitOptions(eval_fraction=0.1, near=near == "1"), engine=engine)
    res = {"examples": m["counts"]["read"], "eval": m["counts"]["eval"]}
print(json.dumps(res))
"""


def _proc_table() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent, rss bytes, cpu seconds) of every process (from /proc)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = (int(parts[11]) + int(parts[12])) / TICK
        out[int(d)] = (int(parts[1]), int(parts[21]) * PAGE, cpu)
    return out


def _anon(pid: int) -> int:
    """``RssAnon`` of ``pid`` in bytes: its private memory, without the shared pages
    (Ray's object store) it maps; 0 when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd: list[str], env: dict[str, str], log: Path | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall, CPU of its process tree, peak RSS of the driver and of the
    largest other process in the tree (and that process's peak private memory,
    ``RssAnon``, which leaves out the object-store pages it maps), and its JSON output.
    ``log`` receives the command's stderr as it runs."""
    t = time.perf_counter()
    err_to = open(log, "w") if log is not None else subprocess.PIPE
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_to, text=True,
                            env=env, start_new_session=True)  # fmt: skip
    cpu: dict[int, float] = {}
    driver_peak = worker_peak = worker_anon = driver_anon = 0
    tick = 0
    while proc.poll() is None:
        table = _proc_table()
        todo, tree = [proc.pid], []
        while todo:
            p = todo.pop()
            tree.append(p)
            todo.extend(c for c, (parent, _, _) in table.items() if parent == p)
        for p in tree:
            if p not in table:
                continue
            _, rss, c = table[p]
            cpu[p] = max(cpu.get(p, 0.0), c)
            if p == proc.pid:
                driver_peak = max(driver_peak, rss)
                if tick % 5 == 0:
                    driver_anon = max(driver_anon, _anon(p))
            else:
                worker_peak = max(worker_peak, rss)
                if tick % 5 == 0:
                    worker_anon = max(worker_anon, _anon(p))
        tick += 1
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    if log is not None:
        err_to.close()  # type: ignore[union-attr]
        err = log.read_text()
    if proc.returncode != 0:
        sys.exit(f"bench/engine.py: {' '.join(cmd[-4:])} failed:\n{err[-3000:]}")
    return {"wall": wall, "cpu": sum(cpu.values()), "driver_mib": driver_peak / 2**20,
            "worker_mib": worker_peak / 2**20, "worker_anon_mib": worker_anon / 2**20,
            "driver_anon_mib": driver_anon / 2**20,
            **json.loads(out.strip().splitlines()[-1])}  # fmt: skip


def run(stage: str, engine: str, src: Path, out: Path, near: bool = False) -> dict[str, Any]:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", CURATE_RAY_TIMING="1")
    env.setdefault("RAY_AUTH_MODE", "disabled")  # the throwaway local instance of the run
    env.pop("RAY_ADDRESS", None)
    log = out.with_name(out.name + ".log")
    cmd = [sys.executable, "-c", RUN, stage, engine, str(src), str(out), "1" if near else "0"]
    r = measure(cmd, env, log)
    steps = [line for line in log.read_text().splitlines() if line.startswith("ray dedup:")]
    if steps:
        print("\n".join(f"    {line}" for line in steps))
    return r


def _examples(path: Path, n: int, seed: int) -> None:
    """``n`` examples at ``path`` (an existing file of that name is used as it is: the
    generator is deterministic for a seed, so ``--data-dir`` keeps them between runs)."""
    if path.exists():
        return
    spec = importlib.util.spec_from_file_location("bench_dedup", HERE / "dedup.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_short_examples(path, n, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000", help="examples through all stages, both engines")
    ap.add_argument("--ray-dedup", type=int, default=300_000, metavar="N",
                    help="a Ray-only dedup of N examples (0: skip)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stages", default="validate,dedup,split", help="stages on both engines")
    ap.add_argument("--split-near", action="store_true",
                    help="split groups near duplicates too (split's default; off here by "
                    "default, as in the earlier runs: exact keys and prompts only)")  # fmt: skip
    ap.add_argument("--data-dir", type=Path, metavar="DIR",
                    help="where the inputs are generated and kept (in-N.jsonl; default: a "
                    "temporary folder, removed at the end)")  # fmt: skip
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"== bench/engine.py: {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start; baseline: the local engine")  # fmt: skip
    head = (f"{'stage':9} {'examples':>9} {'engine':6} {'wall s':>7} {'CPU s':>7} "
            f"{'driver MiB':>10} {'worker MiB':>10} {'private':>8}  result")  # fmt: skip
    ratios = []
    worker_growth = []
    with tempfile.TemporaryDirectory(prefix="curate-bench-engine-") as d:
        data = args.data_dir or Path(d)
        for n in sizes:
            src = data / f"in-{n}.jsonl"
            _examples(src, n, args.seed)
            print(f"\n{n:,} examples, {src.stat().st_size / 1e6:.1f} MB\n{head}")
            for stage in args.stages.split(","):
                got = {}
                for engine in ("local", "ray"):
                    r = got[engine] = run(stage, engine, src, Path(d) / f"{stage}-{engine}",
                                          args.split_near)  # fmt: skip
                    res = {k: v for k, v in r.items() if k not in MEASURES}
                    print(f"{stage:9} {n:9,d} {engine:6} {r['wall']:7.1f} {r['cpu']:7.1f} "
                          f"{r['driver_mib']:10.0f} {r['worker_mib']:10.0f} "
                          f"{r['worker_anon_mib']:8.0f}  {res}")  # fmt: skip
                    if engine == "ray" and stage == "dedup":
                        worker_growth.append((n, r["worker_mib"], r["driver_mib"]))
                same = ({k: v for k, v in got["local"].items() if k not in MEASURES}
                        == {k: v for k, v in got["ray"].items() if k not in MEASURES})  # fmt: skip
                ratios.append((stage, n, got["ray"]["wall"] / got["local"]["wall"],
                               got["ray"]["cpu"] / max(got["local"]["cpu"], 1e-9),
                               got["ray"]["driver_mib"] / got["local"]["driver_mib"],
                               same))  # fmt: skip
            if args.data_dir is None:
                src.unlink()
        if args.ray_dedup:
            n = args.ray_dedup
            src = data / f"in-{n}.jsonl"
            _examples(src, n, args.seed)
            r = run("dedup", "ray", src, Path(d) / "dedup-big")
            print(f"\nRay only: dedup of {n:,} examples ({src.stat().st_size / 1e6:.1f} MB): "
                  f"wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s, driver peak "
                  f"{r['driver_mib']:.0f} MiB ({r['driver_anon_mib']:.0f} MiB private), "
                  f"largest worker {r['worker_mib']:.0f} MiB "
                  f"({r['worker_anon_mib']:.0f} MiB private), kept {r['kept']:,}, "
                  f"{r['clusters']:,} clusters")  # fmt: skip
            worker_growth.append((n, r["worker_mib"], r["driver_mib"]))
    print("\nRay / local (same machine: the overhead a user pays for --engine ray here)")
    print(
        f"{'stage':9} {'examples':>9} {'wall x':>7} {'CPU x':>7} {'driver RSS x':>12}  same result"
    )
    for stage, n, w, c, m, same in ratios:
        print(f"{stage:9} {n:9,d} {w:7.2f} {c:7.2f} {m:12.2f}  {same}")
    if worker_growth:
        print("\nRay dedup memory vs data size")
        print(
            f"{'examples':>9} {'largest worker MiB':>18} {'per 100k examples':>18} "
            f"{'driver MiB':>10}"
        )
        for n, w, drv in sorted(worker_growth):
            print(f"{n:9,d} {w:18.0f} {w / n * 1e5:18.1f} {drv:10.0f}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()

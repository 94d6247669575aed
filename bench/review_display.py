"""Benchmark: `curate review push` before and after the reasoning/tools/image display
(issue 21), on one local Argilla server, alternating runs.

Baseline: ``curate/review/push.py`` as of commit e89a93a (the push measured at 534 records/s
for issue 23), loaded from git into its own module; "now" is the working tree's push (which
scans the file for optional fields and renders through ``curate.review.display``). Both push
the same records (``bench/review.py``'s chat records: no reasoning, tools or images, so no
optional field) into fresh datasets of the same server, ``--rounds`` times each, alternating,
so a change in the machine's load hits both. Prints each run and the median ratio.

    python bench/review_display.py            # 5,000 records, 3 rounds
    python bench/review_display.py --n 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "e89a93a"


def _baseline_push(tmp: Path) -> Any:
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASELINE}:curate/review/push.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = tmp / "push_before.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("push_before", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["push_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="records per push")
    ap.add_argument("--rounds", type=int, default=3, help="pushes of each version")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from review import _free_port, make_records  # bench/review.py

    from curate.review import push as now
    from curate.review import server
    from curate.review.client import connect

    with tempfile.TemporaryDirectory(prefix="curate-bench-display-") as t:
        tmp = Path(t)
        before = _baseline_push(tmp)
        data = tmp / "server"
        try:
            state = server.serve(_free_port(), data, log=lambda m: print(m, file=sys.stderr))
            client = connect(state["url"], state["api_key"])
            src = tmp / "bench.jsonl"
            src.write_text(
                "".join(json.dumps(r) + "\n" for r in make_records(args.n)), encoding="utf-8"
            )
            rates: dict[str, list[float]] = {"before": [], "now": []}
            tag = uuid.uuid4().hex[:6]
            for r in range(args.rounds):
                order = [("before", before), ("now", now)]
                if r % 2:
                    order.reverse()
                for name, mod in order:
                    t0 = time.perf_counter()
                    res = mod.push(src, dataset=f"{name}-{r}-{tag}", client=client)
                    secs = time.perf_counter() - t0
                    assert res.pushed == args.n, res.to_dict()
                    rates[name].append(args.n / secs)
                    print(f"round {r + 1} {name:6} {args.n / secs:7.0f} records/s ({secs:.1f} s)")
        finally:
            server.stop(data)
    b, n = statistics.median(rates["before"]), statistics.median(rates["now"])
    print(
        f"median: before ({BASELINE}) {b:.0f} records/s, now {n:.0f} records/s: "
        f"now/before {n / b:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

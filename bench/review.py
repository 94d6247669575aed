"""Benchmark: `curate review push` and `pull` on a local Argilla server of its own.

Measured: :func:`curate.review.push.push` (validation incl. exact and near duplicates, token
counts, records with findings and suggestions, upload in batches of 500 with one batch in flight
while the next is built) and :func:`curate.review.pull.pull` (fetching every record with its
responses, resolving, applying, writing the outputs and the audit).

Baselines, measured in the same run:

- **before** (the push of curate 0.x until this change): the Argilla SDK's
  ``dataset.records.log`` of the same records (fields, metadata, suggestion), one request at a
  time, into a second server started without curate's server speed-ups
  (``CURATE_ARGILLA_TUNING=0``), on the first ``--baseline-n`` records;
- **SDK, same server**: that same SDK upload into the tuned server (what is left is the
  client's share);
- **SDK read**: ``dataset.records(with_responses=True)`` for the pull.

The records are the public chat samples (``fixtures/samples``) repeated with a numbered user
turn, so every record is distinct; a simulated reviewer answers 10% through the SDK before the
pull. Both servers run on free ports with data dirs in a temporary folder and are stopped at
the end.

    python bench/review.py                 # 5,000 records
    python bench/review.py --n 50000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "fixtures" / "samples"


def make_records(n: int) -> list[dict[str, Any]]:
    """``n`` distinct chat records from the public samples (or built-in ones without them)."""
    base: list[list[dict[str, Any]]] = []
    toy = SAMPLES / "toy_chat_fine_tuning.jsonl"
    if toy.exists():
        for line in toy.read_text(encoding="utf-8").splitlines():
            msgs = json.loads(line)["messages"] if line.strip() else []
            # typical sizes: leave out the sample's one 100 KB message
            if msgs and all(len(str(m.get("content"))) < 4000 for m in msgs):
                base.append(msgs)
    if not base:
        base = [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]]
    out = []
    for i in range(n):
        msgs = [dict(m) for m in base[i % len(base)]]
        for m in msgs:
            if m["role"] == "user":
                m["content"] = f"{m['content']} (case {i})"
                break
        out.append({"id": f"b{i:06d}", "messages": msgs, "source": {"format": "openai"}})
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sdk_log(client: Any, name: str, records: list[dict[str, Any]]) -> float:
    """Seconds for the SDK to log these records as curate's push did before this change."""
    import argilla as rg

    from curate.records import Example, Location
    from curate.review import settings as S
    from curate.review.push import build_record

    ds = rg.Dataset(name=name, settings=S.build_settings(), client=client).create()
    built = []
    for r in records:
        rec = build_record(Example(r, Location("bench.jsonl", 1)), [], tokens=0)
        label, score = rec["suggestion"]
        built.append(
            rg.Record(
                id=rec["id"],
                fields=rec["fields"],
                metadata=rec["metadata"],
                suggestions=[rg.Suggestion(S.DECISION, label, score=score, agent=S.AGENT)],
            )
        )
    t0 = time.perf_counter()
    for i in range(0, len(built), 500):
        ds.records.log(built[i : i + 500], batch_size=500)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="records pushed and pulled")
    ap.add_argument(
        "--baseline-n", type=int, default=2000, help="records of the slow 'before' baseline"
    )
    args = ap.parse_args()

    os.environ.setdefault("TQDM_DISABLE", "1")  # the SDK's own bars

    import argilla as rg

    from curate.console import progress_bar
    from curate.review import server
    from curate.review.client import connect
    from curate.review.pull import pull
    from curate.review.push import push

    def log(m: str) -> None:
        print(m, file=sys.stderr)

    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="curate-bench-review-") as tmp:
        tuned_dir, plain_dir = Path(tmp) / "tuned", Path(tmp) / "untuned"
        try:
            state = server.serve(_free_port(), tuned_dir, log=log)
            client = connect(state["url"], state["api_key"])
            src = Path(tmp) / "bench.jsonl"
            records = make_records(args.n)
            src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
            nb = min(args.baseline_n, args.n)

            # baseline 2: the SDK's upload into the tuned server
            sdk_tuned = _sdk_log(client, f"bench-sdk-{tag}", records[:nb])

            # curate push
            name = f"bench-curate-{tag}"
            with progress_bar(args.n, f"push {args.n}") as advance:
                res = push(src, dataset=name, client=client, progress=advance)
            assert res.pushed == args.n, res.to_dict()
            ds = client.datasets(name)

            # baseline 1: before this change (SDK log into a server without the speed-ups)
            os.environ["CURATE_ARGILLA_TUNING"] = "0"
            try:
                plain = server.serve(_free_port(), plain_dir, log=log)
            finally:
                del os.environ["CURATE_ARGILLA_TUNING"]
            plain_client = connect(plain["url"], plain["api_key"])
            before = _sdk_log(plain_client, f"bench-before-{tag}", records[:nb])
            server.stop(plain_dir)

            # a reviewer answers 10% through the SDK (not timed)
            reviewer = rg.User(
                username=f"bench-{tag}", password="bench-password-1", role="annotator",
                client=client,
            ).create()  # fmt: skip
            ds.workspace.add_user(reviewer.username)
            answered = []
            for i, rec in enumerate(ds.records(batch_size=1000)):
                if i % 10 == 0:
                    label = "reject" if i % 20 == 0 else "accept"
                    rec.responses.add(
                        rg.Response("decision", label, user_id=reviewer.id, status="submitted")
                    )
                    answered.append(rec)
            for i in range(0, len(answered), 500):
                ds.records.log(answered[i : i + 500], batch_size=500)

            # baseline 3: the SDK reading everything back
            t0 = time.perf_counter()
            n_read = sum(1 for _ in ds.records(with_responses=True, batch_size=1000))
            sdk_read = time.perf_counter() - t0
            assert n_read == args.n

            # curate pull
            with progress_bar(args.n, f"pull {args.n}") as advance:
                pulled = pull(
                    src,
                    client=client,
                    dataset=name,
                    out=Path(tmp) / "clean.jsonl",
                    audit=Path(tmp) / "audit.jsonl",
                    progress=advance,
                )
            assert pulled.read == args.n
            assert pulled.rejected == len(answered) // 2 + len(answered) % 2
        finally:
            server.stop(plain_dir)
            server.stop(tuned_dir)

    def rate(n: int, s: float) -> str:
        return f"{n / s:8.0f} records/s ({s:6.1f} s for {n})"

    push_rate = res.pushed / res.seconds
    upload_s = res.seconds - res.validate_seconds
    print(f"records: {args.n}; local server (SQLite + curate-sql search engine), 2 cores")
    print(f"push  curate review push      {rate(res.pushed, res.seconds)}")
    print(
        f"      of which validation     {res.validate_seconds:6.1f} s, upload {upload_s:6.1f} s "
        f"({res.pushed / upload_s:.0f} records/s)"
    )
    upload_rate = res.pushed / upload_s
    print(
        f"      before: SDK log, server without speed-ups  {rate(nb, before)}   "
        f"curate's upload {upload_rate / (nb / before):.1f}x, whole push "
        f"{push_rate / (nb / before):.1f}x"
    )
    print(
        f"      SDK log into the same server               {rate(nb, sdk_tuned)}   "
        f"curate's upload {upload_rate / (nb / sdk_tuned):.1f}x"
    )
    print(f"pull  curate review pull      {rate(pulled.read, pulled.seconds)}")
    print(
        f"      SDK read                {rate(args.n, sdk_read)}   "
        f"curate is {(pulled.read / pulled.seconds) / (args.n / sdk_read):.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

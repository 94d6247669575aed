"""Benchmark: `curate review push` and `pull` of 5,000 records on the local Argilla server.

Measured: :func:`curate.review.push.push` (validation incl. duplicates, token counts, records
with findings and suggestions, upload in batches of 500) and :func:`curate.review.pull.pull`
(fetching every record with its responses, resolving and applying decisions, writing the
outputs and the audit). Baselines, in the same run and on the same server: the Argilla SDK alone
uploading the same conversations (``dataset.records.log``, the chat field only, no
validation, findings, metadata or suggestions) and reading
them back (``dataset.records(with_responses=True)``).

The records are the public chat samples repeated with a numbered user turn (so every record is
distinct), and a simulated reviewer answers 10% of them through the SDK before the pull.

    python bench/review.py                # 5,000 records, server from `curate review serve`
    python bench/review.py --n 1000
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()

    os.environ.setdefault("TQDM_DISABLE", "1")  # the SDK's own bars

    import argilla as rg

    from curate.console import progress_bar
    from curate.review import server
    from curate.review.client import connect
    from curate.review.pull import pull
    from curate.review.push import chat_messages, push

    state = server.status()
    if not state["running"]:
        print("starting the local server (curate review serve)...", file=sys.stderr)
        state = server.serve(log=lambda m: print(m, file=sys.stderr))
    client = connect(state["url"], state["api_key"])
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bench.jsonl"
        records = make_records(args.n)
        src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

        # baseline: the SDK alone
        base_ds = rg.Dataset(
            name=f"bench-sdk-{tag}",
            settings=rg.Settings(
                fields=[rg.ChatField(name="conversation")],
                questions=[rg.LabelQuestion(name="decision", labels=["accept", "reject"])],
            ),
            client=client,
        ).create()
        t0 = time.perf_counter()
        base_ds.records.log(
            [
                rg.Record(id=r["id"], fields={"conversation": chat_messages(r["messages"])})
                for r in records
            ],
            batch_size=500,
        )
        sdk_push = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_read = sum(1 for _ in base_ds.records(with_responses=True, batch_size=1000))
        sdk_read = time.perf_counter() - t0
        assert n_read == args.n

        # curate push
        name = f"bench-curate-{tag}"
        with progress_bar(args.n, f"push {args.n}") as advance:
            res = push(src, dataset=name, client=client, progress=advance)
        assert res.pushed == args.n, res.to_dict()
        ds = client.datasets(name)

        # a reviewer answers 10% through the SDK (not timed)
        reviewer = rg.User(
            username=f"bench-{tag}", password="bench-password-1", role="annotator", client=client
        ).create()
        ds.workspace.add_user(reviewer.username)
        answered = []
        for i, rec in enumerate(ds.records):
            if i % 10 == 0:
                label = "reject" if i % 20 == 0 else "accept"
                rec.responses.add(
                    rg.Response("decision", label, user_id=reviewer.id, status="submitted")
                )
                answered.append(rec)
        ds.records.log(answered, batch_size=500)

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
        assert pulled.read == args.n and pulled.rejected == len(answered) // 2 + len(answered) % 2

        for d in (ds, base_ds):
            d.delete()
        reviewer.delete()

    def rate(n: int, s: float) -> str:
        return f"{n / s:8.0f} records/s ({s:6.1f} s)"

    push_ratio, pull_ratio = res.seconds / sdk_push, pulled.seconds / sdk_read
    print(f"records: {args.n}, server: {state['url']} (SQLite + curate-sql search engine)")
    print(f"push  curate review push   {rate(res.pushed, res.seconds)}")
    print(f"      baseline SDK log     {rate(args.n, sdk_push)}   ratio {push_ratio:.2f}x")
    print(f"pull  curate review pull   {rate(pulled.read, pulled.seconds)}")
    print(f"      baseline SDK read    {rate(args.n, sdk_read)}   ratio {pull_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

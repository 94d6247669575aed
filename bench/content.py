"""Benchmark: what the content checks add to `curate validate`, same file, same run.

Baseline: ``validate_path`` with the format, length and token checks only (what
``--no-content`` runs). Measured: the same call plus ``content_validators()``. The file
is 100,000 chat examples built from every public sample (read with ``curate.ingest``:
English Alpaca, ShareGPT chats and tool calls, DPO, Chinese preference data), with 1 in
100 examples taken from fixtures/content/ so the detectors find something. The budget
(issue 20): the content checks add at most 35% CPU to ``curate validate --no-content`` on
the ``--unique`` set. Results go to bench/RESULTS.md (dated, with the command).

Two data sets. The default draws whole sample records at random, so strings repeat as
in real data (system prompts, templates, duplicates) and the per-string result cache
hits. ``--unique`` makes every message string unique the way real user and assistant
turns are (see :class:`Uniquifier`): each drawn record has one prose sentence of each
message replaced by, or joined with, another real sentence from the samples of the same
role and script, and JSON tool arguments/results get new numbers. Text stays natural
(real sentences, real code blocks, real openings and endings), and non-English text keeps
its share of the samples (the Chinese preference file is about 10% of the records; a
Chinese message only gets Chinese sentences). About 1% of strings (JSON without digits,
such as ``{"barcode": "Image of the barcode"}``) still repeat.

    python bench/content.py                    # 100,000 examples, all cores, then 1 worker
    python bench/content.py --n 20000
    python bench/content.py --samples          # findings on the public samples (counts +
                                               # 10 random ones, for a precision check)
    python bench/content.py --n 20000 --groups # CPU per example of each rule group (one
                                               # process, each group left out in turn)
    python bench/content.py --cli --unique --content-only  # the budget: default vs --no-content
    python bench/content.py --cli --unique     # the `curate validate` command as a user
                                               # runs it: default, --no-content, and both
                                               # with --duplicates none (the core checks)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: the public samples the repository carries (fixtures/SOURCES.md); CURATE_SAMPLES points
#: elsewhere (a larger set) for runs comparable with older recorded figures
SAMPLES = Path(os.environ.get("CURATE_SAMPLES", ROOT / "fixtures" / "samples"))
FIXTURES = ROOT / "fixtures" / "content"


def _as_chat(data: Any) -> dict[str, Any] | None:
    """A canonical record as plain chat messages (a DPO record: prompt + preferred)."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("messages"), list):
        return {"messages": data["messages"]}
    inp = data.get("input")
    if isinstance(inp, dict) and isinstance(inp.get("messages"), list):
        return {"messages": inp["messages"] + list(data.get("preferred_output") or [])}
    return None


def sample_records() -> list[tuple[str, Any]]:
    """(file, canonical record) for every example of every public sample."""
    from curate.ingest import read
    from curate.records import Example

    out = []
    for p in sorted(SAMPLES.glob("*.json*")):
        for item in read(p):
            if isinstance(item, Example):
                out.append((p.name, item))
    return out


#: one sentence (or line) with its trailing whitespace; the pieces of a text join back to it
_SENTENCE_RE = re.compile(r"[^\n]+?(?:[.!?](?=\s|$)|[。！？]|(?=\n)|$)[ \t]*|\n+")
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_DIGITS_RE = re.compile(r"\d+")


def _sentences(text: str) -> list[str]:
    return _SENTENCE_RE.findall(text)


def _prose(piece: str) -> bool:
    """A sentence of prose (not code, JSON, a table row or a list marker alone)."""
    s = piece.strip()
    return (
        (8 if _CJK_RE.match(s) else 20) <= len(s) <= 300
        and s[-1] in ".!?。！？"
        and not any(c in s for c in "{}`|<>=;")
    )


def _script(text: str) -> str:
    return "cjk" if len(_CJK_RE.findall(text[:200])) * 3 >= len(text[:200].strip()) else "other"


def _pool_role(role: Any) -> str:
    return role if role in ("assistant", "system") else "user"


class Uniquifier:
    """Makes every message string of the bench data unique while keeping it natural: one
    prose sentence in the middle of a message is replaced by another real sentence of the
    same sample file and role (a Chinese record gets Chinese sentences), or, for a text of
    one or two sentences, such a sentence is inserted after its first one. The opening and
    the end of a text stay as they were (refusals, boilerplate openings and cut-off endings
    are still found). Sentences with a finding of their own are not used. JSON (tool
    arguments and results) and structured text with numbers get new numbers instead. A
    repeat is retried; a JSON string with no digit (about 1% of strings) may repeat."""

    def __init__(self, chats: list[tuple[str, dict[str, Any]]], rnd: random.Random) -> None:
        from curate.records import Example, Location
        from curate.validators.content import content_validators

        (check,) = content_validators()
        self.rnd = rnd
        self.seen: set[int] = set()
        pools: dict[tuple[str, str], set[str]] = {}
        for name, rec in chats:
            for m in rec["messages"]:
                if isinstance(m, dict) and isinstance(m.get("content"), str):
                    for piece in _sentences(m["content"]):
                        if _prose(piece):
                            pools.setdefault((name, _pool_role(m.get("role"))), set()).add(
                                piece.strip()
                            )
        self.pools: dict[tuple[str, str], list[str]] = {}
        for key, sentences in pools.items():
            # a sentence with a finding of its own (an "As an AI" line, an e-mail address)
            # would plant that finding in every message it lands in: left out
            ok = []
            for s in sorted(sentences):
                msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": s}]
                if not list(check.check(Example({"messages": msgs}, Location("pool", 1)))):
                    ok.append(s)
            self.pools[key] = ok
        self.by_role: dict[str, list[str]] = {}
        for (name, role), sentences in sorted(self.pools.items()):
            if "alignment" not in name:  # English for the planted fixture records
                self.by_role.setdefault(role, []).extend(sentences)

    def text(self, text: str, role: str, source: str | None) -> str:
        role = _pool_role(role)
        pool = self.pools.get((source, role)) if source else None
        if pool is None or len(pool) < 200:  # a small pool would repeat itself
            pool = self.by_role.get(role) if "alignment" not in str(source) else pool
        for _ in range(8):
            out = self._vary(text, pool)
            h = hash(out)
            if h not in self.seen:
                self.seen.add(h)
                return out
        return out

    def _vary(self, text: str, pool: list[str] | None) -> str:
        rnd = self.rnd
        pieces = _sentences(text)
        prose = any(map(_prose, pieces)) or not _DIGITS_RE.search(text)
        if pool and text.lstrip()[:1] not in "{[" and prose:
            middle = [i for i in range(1, len(pieces) - 1) if _prose(pieces[i])]
            new = rnd.choice(pool)
            if middle:
                i = rnd.choice(middle)
                old = pieces[i]
                pieces[i] = new + old[len(old.rstrip()) :]
            else:
                sep = "" if _script(new) == "cjk" else " "
                first = pieces[0]
                if first.rstrip() == first:
                    first += sep
                pieces[0] = first + new + (sep if len(pieces) > 1 else "")
            return "".join(pieces)
        if _DIGITS_RE.search(text):
            return _DIGITS_RE.sub(lambda m: str(rnd.randrange(1, 10 ** len(m.group()))), text)
        return text

    def record(self, rec: Any, source: str | None) -> Any:
        msgs = rec.get("messages") if isinstance(rec, dict) else None
        if not isinstance(msgs, list):
            return rec
        out = []
        for m in msgs:
            if isinstance(m, dict):
                if isinstance(m.get("content"), str) and m["content"]:
                    m = {**m, "content": self.text(m["content"], str(m.get("role")), source)}
                if isinstance(m.get("tool_calls"), list):
                    m = {**m, "tool_calls": [self._call(c, source) for c in m["tool_calls"]]}
            out.append(m)
        return {**rec, "messages": out}

    def _call(self, call: Any, source: str | None) -> Any:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
            return call
        return {**call, "function": {**fn, "arguments": self.text(fn["arguments"], "tool", source)}}


def generate(path: Path, n: int, seed: int = 0, unique: bool = False) -> None:
    rnd = random.Random(seed)
    chats = [(name, c) for name, ex in sample_records() if (c := _as_chat(ex.data)) is not None]
    planted = [
        json.loads(line)
        for f in sorted(FIXTURES.glob("*.jsonl"))
        if "clean" not in f.name
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    uniq = Uniquifier(chats, random.Random(seed + 1)) if unique else None
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            source, rec = (None, rnd.choice(planted)) if i % 100 == 99 else rnd.choice(chats)
            if uniq is not None:
                rec = uniq.record(rec, source)
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children (the
    worker pool is shut down before validate_path returns)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _cold_content_state() -> None:
    """Forget what the content checks loaded or learnt in this process (per-string results,
    language answers, the language model, the prefilter database), so that the forked
    workers start as those of a fresh ``curate validate`` do: each loads the model and the
    database itself (from the on-disk caches) and sees every string for the first time.
    Without this the warm-up run's results were inherited by the workers."""
    from curate.validators import prefilter, text_quality

    text_quality._classify.cache_clear()
    text_quality._identifier.cache_clear()
    prefilter._BUILT.clear()


def timed(path: Path, workers: int | None, content: bool) -> tuple[float, float, Counter[str]]:
    """(wall seconds, CPU seconds, content findings by code) of one validate_path run."""
    from curate.validate import validate_path
    from curate.validators.content import RULES, content_validators

    if content:
        _cold_content_state()
    vs = content_validators() if content else []  # (a new check: an empty memo)
    c0, t0 = _cpu(), time.perf_counter()
    rep = validate_path([str(path)], validators=vs, workers=workers)
    dt, cpu = time.perf_counter() - t0, _cpu() - c0
    return dt, cpu, Counter({k: v for k, v in rep.total.findings_by_code.items() if k in RULES})


def bench(n: int, *, unique: bool = False, one_worker: bool = True, repeat: int = 2) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "content_bench.jsonl"
        generate(path, n, unique=unique)
        if unique:
            print("every message string made unique (real sentences recombined, see Uniquifier)")
        size = path.stat().st_size / 1e6
        print(f"{n:,} examples, {size:.1f} MB: {path.name}")
        # warm: tokenizer ranks, page cache, the on-disk model and prefilter caches (each
        # content run then starts cold in memory: see _cold_content_state)
        timed(path, 1, True)
        for workers, label in ((None, "all cores"), (1, "1 worker")):
            if workers == 1 and one_worker is False:
                continue
            base_runs = [timed(path, workers, False) for _ in range(repeat)]
            runs = [timed(path, workers, True) for _ in range(repeat)]
            base = min(r[0] for r in base_runs)
            base_cpu = min(r[1] for r in base_runs)
            with_content = min(r[0] for r in runs)
            with_cpu = min(r[1] for r in runs)
            counts = runs[0][2]
            over = (with_content - base) / base * 100
            over_cpu = (with_cpu - base_cpu) / base_cpu * 100
            per_ex = (with_cpu - base_cpu) / n * 1e6
            print(
                f"[{label}] baseline validate (--no-content): {base:.2f} s wall, "
                f"{base_cpu:.2f} s CPU | with content checks: {with_content:.2f} s wall, "
                f"{with_cpu:.2f} s CPU | overhead {over:+.1f}% wall, {over_cpu:+.1f}% CPU "
                f"(budget < 35% CPU), content {per_ex:.0f} us CPU per example | load average "
                f"{os.getloadavg()[0]:.2f}"
            )
        print("findings by code:", dict(sorted(counts.items())))


CLI = "from curate.cli import main; main()"
#: ``curate validate`` as a user runs it: name -> extra options. Content checks and exact
#: duplicates are on by default; "core" is format, length, tokens and cost alone.
CLI_VARIANTS: dict[str, list[str]] = {
    "default (content on)": [],
    "--no-content": ["--no-content"],
    "--duplicates none": ["--duplicates", "none"],
    "--no-content --duplicates none": ["--no-content", "--duplicates", "none"],
}
#: (with content, without): the pairs whose difference is what the content checks add
CLI_PAIRS = (
    ("default (content on)", "--no-content"),
    ("--duplicates none", "--no-content --duplicates none"),
)


def _run_cli(path: Path, extra: list[str]) -> tuple[float, float, dict[str, int]]:
    """(wall s, CPU s with the worker processes, findings by code) of one ``curate
    validate`` command in a fresh process."""
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CLI, "validate", str(path), "--json", "--fail-on", "never", *extra],
        check=True,
        capture_output=True,
        env={**os.environ, "CI": "1"},
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out.stdout)["findings_by_code"]


def cli_bench(n: int, *, unique: bool, repeat: int = 3, content_only: bool = False) -> None:
    """The ``curate validate`` command, run as a user runs it (fresh processes, imports,
    the worker pool, the JSON report), with and without ``--no-content``, on the default
    command and on the core checks alone. The variants run interleaved, ``repeat`` rounds;
    each round gives one ratio per pair (the machine's speed drifts less within a round
    than across rounds), and the median ratio is the result. ``content_only``: the first
    pair only (the default command and ``--no-content``: the budget's ratio)."""
    import statistics

    variants = dict(list(CLI_VARIANTS.items())[:2]) if content_only else CLI_VARIANTS
    pairs = CLI_PAIRS[:1] if content_only else CLI_PAIRS

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "content_bench.jsonl"
        generate(path, n, unique=unique)
        mode = "every message string unique" if unique else "sample records drawn at random"
        size = path.stat().st_size / 1e6
        print(f"{n:,} examples ({mode}), {size:.1f} MB; cores {os.cpu_count()}, {repeat} rounds")
        _run_cli(path, [])  # warm: page cache, on-disk caches (prefilter, language model)
        rounds: list[dict[str, tuple[float, float]]] = []
        counts: dict[str, int] = {}
        for _ in range(repeat):
            got = {}
            for name, extra in variants.items():
                w, c, found = _run_cli(path, extra)
                got[name] = (w, c)
                counts = found if not extra else counts
            rounds.append(got)
    print(f"{'curate validate ...':34}{'wall s (median)':>16}{'CPU s (median)':>16}")
    for name in variants:
        w = statistics.median(r[name][0] for r in rounds)
        c = statistics.median(r[name][1] for r in rounds)
        print(f"  {name:32}{w:16.2f}{c:16.2f}")
    for with_, without in pairs:
        cmd = " ".join(["curate", "validate", *without.replace("--no-content", "").split()])
        walls = [(r[with_][0] / r[without][0] - 1) * 100 for r in rounds]
        cpus = [(r[with_][1] / r[without][1] - 1) * 100 for r in rounds]
        per_ex = statistics.median((r[with_][1] - r[without][1]) / n * 1e6 for r in rounds)
        print(
            f"content checks add to `{cmd}`: median {statistics.median(walls):+.1f}% wall, "
            f"{statistics.median(cpus):+.1f}% CPU; per round CPU "
            f"{', '.join(f'{x:+.0f}%' for x in cpus)}; {per_ex:.0f} us CPU per example "
            "(budget < 35% CPU)"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("findings by code (default command):", dict(sorted(counts.items())))


#: rule groups for --groups: name -> the [tool.curate.content] settings that turn it off
GROUPS: dict[str, dict[str, str]] = {
    "secrets": {"secrets": "off"},
    "pii": {"pii": "off"},
    "placeholders": {"template_placeholder": "off"},
    "boilerplate": {"assistant_boilerplate": "off"},
    "refusal+truncation": {"assistant_refusal": "off", "truncated_reply": "off"},
    "repetition": {"repetition_loop": "off"},
    "echo": {"prompt_echo": "off"},
    "mojibake+control": {"mojibake": "off", "control_characters": "off"},
    "language": {"language_mismatch": "off"},
}


#: examples per check_many call in --groups: about what a 1 MB batch of
#: ``curate validate`` holds on this data
GROUP_BATCH = 700


def groups(n: int, *, unique: bool = False, repeat: int = 3) -> None:
    """CPU microseconds per example of the content checks in this process (no pool, no
    parsing): all rules, then each group left out in turn (its cost is the difference).
    Each run starts with empty caches, so the first sight of every string is paid."""
    from curate.records import Example, Location
    from curate.validators import content as content_mod
    from curate.validators import text_quality

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "content_groups.jsonl"
        generate(path, n, unique=unique)
        lines = path.read_text(encoding="utf-8").splitlines()
    exs = [Example(json.loads(line), Location(str(path), i + 1)) for i, line in enumerate(lines)]

    def run(config: dict[str, str] | None) -> float:
        best = float("inf")
        vs = content_mod.content_validators(config)
        for _ in range(repeat):
            for v in vs:
                v.clear()
            text_quality._classify.cache_clear()
            t0 = time.process_time()
            for v in vs:
                many = getattr(v, "check_many", None)
                if many is not None:  # as check_batch calls it: once per batch
                    for i in range(0, len(exs), GROUP_BATCH):
                        many(exs[i : i + GROUP_BATCH])
                    continue
                for ex in exs:
                    for _f in v.check(ex):
                        pass
            best = min(best, time.process_time() - t0)
        return best / len(exs) * 1e6

    run(None)  # warm: language model, regex compilation
    every = run(None)
    mode = "unique strings" if unique else "samples repeated"
    print(f"{n:,} examples ({mode}), one process, CPU per example, cold caches:")
    print(f"  all content rules: {every:.1f} us")
    for name, config in GROUPS.items():
        print(f"  {name:20s} {every - run(config):5.1f} us")


def samples(k: int = 10, seed: int = 7) -> None:
    """Counts by code on every public sample, and ``k`` random findings with context."""
    from curate.validators.content import content_validators, iter_texts

    vs = content_validators()
    found = []
    per_file: Counter[tuple[str, str]] = Counter()
    for name, ex in sample_records():
        for v in vs:
            for f in v.check(ex):
                found.append((f, ex))
                per_file[(name, f.code)] += 1
    print("findings by file and code:")
    for (name, code), c in sorted(per_file.items()):
        print(f"  {name:40s} {code:24s} {c}")
    print("total by code:", dict(sorted(Counter(f.code for f, _ in found).items())))
    print(f"\n{k} random findings (seed {seed}):")
    for f, ex in random.Random(seed).sample(found, min(k, len(found))):
        text = {fld: t for fld, _, _, t in iter_texts(ex.data)}[f.data["field"]]
        s, e = f.data["span"]
        ctx = text[max(0, s - 50) : min(len(text), e + 30)]
        if f.code.startswith(("secret", "pii")):
            ctx = ctx.replace(text[s:e], "<<found>>")
        print(f"- {f.format_line()}\n    context: {ctx[:240]!r}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--samples", action="store_true", help="report findings on the samples")
    ap.add_argument("--unique", action="store_true", help="make every message string unique")
    ap.add_argument("--all-cores-only", action="store_true", help="skip the 1-worker run")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each (the best is kept)")
    ap.add_argument("--groups", action="store_true", help="CPU per example of each rule group")
    ap.add_argument(
        "--cli", action="store_true", help="time the curate validate command itself (4 variants)"
    )
    ap.add_argument(
        "--content-only", action="store_true", help="with --cli: the default and --no-content only"
    )
    args = ap.parse_args(argv)
    if not SAMPLES.is_dir():
        sys.exit(f"public samples not found at {SAMPLES}")
    if args.samples:
        samples()
    elif args.cli:
        cli_bench(
            args.n, unique=args.unique, repeat=max(args.repeat, 1), content_only=args.content_only
        )
    elif args.groups:
        groups(args.n, unique=args.unique)
    else:
        bench(args.n, unique=args.unique, one_worker=not args.all_cores_only, repeat=args.repeat)


if __name__ == "__main__":
    main()

"""Writes the Ray engine tests' fixture (``tests/engine/data/mixed_*.jsonl``): chat
records with exact copies (case and spacing changed), near duplicates (a word or two
changed), conversations that are prefixes and runs of longer ones, shared prompts with
different answers, preference records, and a few unreadable lines. Deterministic.

Run: python tests/engine/make_fixture.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (
    "the a river mountain quick brown fox jumps over lazy dog data model train learn "
    "python code test value answer question city france paris capital number prime "
    "seven green blue sky light night day time people world story cat sat mat"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def main(out: Path = Path(__file__).parent / "data") -> None:
    rng = random.Random(19)
    out.mkdir(exist_ok=True)
    convs: list[list[dict[str, str]]] = []
    for _ in range(120):
        turns = []
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            turns.append({"role": "user", "content": sentence(rng, rng.randint(4, 14)) + "?"})
            turns.append({"role": "assistant", "content": sentence(rng, rng.randint(6, 30))})
        convs.append(turns)
    rows: list[str] = []
    for i, c in enumerate(convs):
        rec = {"messages": c}
        if i % 9 == 0:
            rec["messages"] = [{"role": "system", "content": "be brief"}, *c]
        rows.append(json.dumps(rec))
        r = rng.random()
        if r < 0.15:  # an exact copy after normalisation
            m = [dict(x, content=" " + x["content"].upper() + "  ") for x in c]
            rows.append(json.dumps({"messages": m}))
        elif r < 0.3:  # a near duplicate: one word changed
            m = [dict(x) for x in c]
            words = m[-1]["content"].split()
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            m[-1]["content"] = " ".join(words)
            rows.append(json.dumps({"messages": m}))
        elif r < 0.42 and len(c) >= 4:  # a prefix and an inner run
            rows.append(json.dumps({"messages": c[:2]}))
            rows.append(json.dumps({"messages": c[2:]}))
        elif r < 0.5:  # the same prompt, another answer
            m = [c[0], {"role": "assistant", "content": sentence(rng, 12)}]
            rows.append(json.dumps({"messages": m}))
        elif r < 0.55:
            rows.append('{"messages": [broken json')
        elif r < 0.6:
            rows.append(json.dumps({
                "input": {"messages": c[:1]},
                "preferred_output": [c[1]],
                "non_preferred_output": [{"role": "assistant", "content": sentence(rng, 5)}],
            }))  # fmt: skip
    rng.shuffle(rows)
    half = len(rows) // 2
    (out / "mixed_1.jsonl").write_text("\n".join(rows[:half]) + "\n", encoding="utf-8")
    (out / "mixed_2.jsonl").write_text("\n".join(rows[half:]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

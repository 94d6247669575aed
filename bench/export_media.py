"""Benchmark ``curate split`` exports of records with images and reasoning traces.

    python bench/export_media.py                  # 20,000 records, 200 distinct images
    python bench/export_media.py --n 5000 --images 50 --formats sharegpt,trl

For each format, one run over records that each hold a local PNG (128x128 random noise,
about 49 KB, so compression does not help) and a reasoning trace, next to the named
baseline ``baseline: text only``: the same records with the image part left out, split to
the same format in the same run. Prints wall time, CPU seconds (process and workers),
peak RSS, the output size and the ratios against the baseline. Each run is a fresh
process. The load average is printed: other work on the machine slows the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make(folder: Path, n: int, images: int) -> tuple[Path, Path]:
    from PIL import Image

    rng = random.Random(0)
    (folder / "img").mkdir(parents=True)
    for i in range(images):
        Image.frombytes("RGB", (128, 128), rng.randbytes(128 * 128 * 3)).save(
            folder / "img" / f"{i}.png"
        )
    media, text = folder / "media.jsonl", folder / "text.jsonl"
    with open(media, "w") as fm, open(text, "w") as ft:
        for i in range(n):
            part = {"type": "image_url", "image_url": {"url": f"img/{rng.randrange(images)}.png"}}
            ask = {"type": "text", "text": f"Describe picture {i}, please."}
            reply = {
                "role": "assistant",
                "reasoning_content": f"The picture {i} is noise; say so.",
                "content": f"Random noise, number {i}.",
            }
            rec = {"id": f"v{i}", "messages": [{"role": "user", "content": [part, ask]}, reply]}
            fm.write(json.dumps(rec) + "\n")
            rec["messages"][0]["content"] = [ask]
            ft.write(json.dumps(rec) + "\n")
    return media, text


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(src: Path, out: Path, fmt: str, n: int) -> dict[str, float]:
    code = (
        "import resource, sys\n"
        "from curate.cli import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print('CPU', r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime,"
        " max(r.ru_maxrss, c.ru_maxrss), file=sys.stderr)\n"
    )
    args = ["split", str(src), "-o", str(out), "--format", fmt, "--no-near"]
    args += ["--eval-size", str(n // 10), "--json"]
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t
    cpu, rss = done.stderr.strip().splitlines()[-1].split()[1:]
    return {"wall": wall, "cpu": float(cpu), "rss_mb": int(rss) / 1024, "out_mb": size(out) / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--formats", default="sharegpt,trl,hf")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; {a.n:,} records, {a.images} images")
    with tempfile.TemporaryDirectory() as tmp:
        media, text = make(Path(tmp), a.n, a.images)
        print(f"images on disk {size(Path(tmp) / 'img') / 1e6:.1f} MB")
        print("| format | run | wall s | CPU s | peak RSS MB | output MB |")
        print("|---|---|---|---|---|---|")
        for fmt in a.formats.split(","):
            base = run(text, Path(tmp) / f"b-{fmt}", fmt, a.n)
            got = run(media, Path(tmp) / f"m-{fmt}", fmt, a.n)
            for name, r in (("baseline: text only", base), ("with images", got)):
                print(
                    f"| {fmt} | {name} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                    f"{r['rss_mb']:.0f} | {r['out_mb']:.1f} |"
                )
            print(
                f"| {fmt} | images / baseline | {got['wall'] / base['wall']:.2f}x | "
                f"{got['cpu'] / base['cpu']:.2f}x | {got['rss_mb'] / base['rss_mb']:.2f}x | |"
            )


if __name__ == "__main__":
    main()

"""Benchmark the media checks (``validators/media.py``) inside ``curate validate``'s batch
function, against a named baseline measured in the same run: ``baseline: format only``
(:func:`curate.validate.check_batch` with the format check alone, as before the media
checks existed).

    python bench/media.py                 # 50,000 text examples, 5,000 image examples
    python bench/media.py --n 200000 --images 20000 --distinct 100

Two inputs, written to a temporary folder:

- text: ``alpaca_en_demo.json`` rows as two-message chats (the common, media-free case: what
  the media checks cost a dataset without media);
- images: chats whose user message holds an ``image_url`` part pointing at one of
  ``--distinct`` 1024x1024 JPEGs (generated with Pillow), so every file is probed once
  (open + verify + full decode) and then found in the cache.

Each is run once to warm up, then ``--repeat`` times alternating baseline and media (the
fastest of each kept: the machine is shared); the first media run, with an empty probe
cache, is printed too. Prints wall time and examples/s, and the ratio media / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "fixtures" / "samples" / "alpaca_en_demo.json"


def write_inputs(folder: Path, n: int, n_images: int, distinct: int) -> tuple[Path, Path]:
    from PIL import Image

    rows = json.loads(SAMPLE.read_text(encoding="utf-8"))
    text = folder / "text.jsonl"
    with text.open("w", encoding="utf-8") as f:
        for i in range(n):
            r = rows[i % len(rows)]
            msgs = [
                {"role": "user", "content": f"{r['instruction']}\n{r['input']} ({i})"},
                {"role": "assistant", "content": r["output"]},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    (folder / "img").mkdir()
    for k in range(distinct):
        noise = Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3))
        noise.resize((1024, 1024)).save(folder / "img" / f"{k}.jpg", quality=85)
    images = folder / "images.jsonl"
    with images.open("w", encoding="utf-8") as f:
        for i in range(n_images):
            r = rows[i % len(rows)]
            parts = [
                {"type": "image_url", "image_url": {"url": f"img/{i % distinct}.jpg"}},
                {"type": "text", "text": f"{r['instruction']} ({i})"},
            ]
            msgs = [
                {"role": "user", "content": parts},
                {"role": "assistant", "content": r["output"]},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return text, images


def run(path: Path, validators: tuple) -> tuple[float, int, int]:
    """Seconds, examples and findings of check_batch over the whole file, inline."""
    from curate.parallel import block_batches
    from curate.tokens import shared_counter
    from curate.validate import BATCH_BYTES, BatchTask, check_batch

    shared_counter("o200k_base")
    t = time.perf_counter()
    n = found = 0
    for block in block_batches(str(path), block_bytes=BATCH_BYTES):
        res = check_batch(BatchTask(str(path), block, "o200k_base", 65536, validators, ()))
        n += res.n_examples
        found += len(res.findings)
    return time.perf_counter() - t, n, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="text examples")
    ap.add_argument("--images", type=int, default=5_000, help="examples with an image")
    ap.add_argument("--distinct", type=int, default=50, help="distinct image files")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (fastest kept)")
    args = ap.parse_args()
    from curate.validators.format import OpenAIFormat
    from curate.validators.media import Media, _probe_file, _resolve

    with tempfile.TemporaryDirectory() as d:
        text, images = write_inputs(Path(d), args.n, args.images, args.distinct)
        base = (OpenAIFormat(),)
        media = (OpenAIFormat(), Media())
        for label, path in (("text", text), ("images", images)):
            run(path, base)  # warm-up: the token counter's memo, the page cache
            _probe_file.cache_clear()
            _resolve.cache_clear()
            tm, n, fm = run(path, media)  # cold probe cache: every image opened once
            times_b, times_m = [], []
            for _ in range(args.repeat):  # alternate, keep the fastest of each
                tb, n, fb = run(path, base)
                times_b.append(tb)
                times_m.append(run(path, media)[0])
            tb, tm_warm = min(times_b), min(times_m)
            print(f"{label}: first run with media checks (empty probe cache) {tm:.2f} s")
            tm = tm_warm
            print(
                f"{label}: {n:,} examples; baseline: format only {tb:.2f} s "
                f"({n / tb:,.0f}/s, {fb} findings); with media checks {tm:.2f} s "
                f"({n / tm:,.0f}/s, {fm} findings); media / baseline = {tm / tb:.2f}x"
            )


if __name__ == "__main__":
    main()

"""Benchmark: counting tokens and trainable tokens as the trainer does, batched
(curate.trainer) vs the straightforward per-example ``apply_chat_template(...,
tokenize=True)`` loop, on N conversations built from the public samples
(LLaMA-Factory alpaca_en_demo + FastChat dummy_conversation: single- and multi-turn,
half with a system prompt).

Two templates (fixtures/trainer/build_tokenizers.py), on a 32k-vocab BPE tokenizer
trained here on every public sample:

- chatml_gen (generation markers): baseline ``apply_chat_template(m, tokenize=True,
  return_dict=True, return_assistant_tokens_mask=True)`` per example;
- chatml (no markers): baseline tokenizes the conversation, and for each assistant turn
  the prompt before it (``add_generation_prompt=True``) and the prefix through it.

Also ``trainer_view``'s scan end to end (read JSONL + parse + render + count + findings,
2 worker processes; the tokenizer is loaded before the timer starts, as in the loops) and
``mistral:v3`` batched vs ``encode_chat_completion(ChatCompletionRequest(messages=m))``
per example. Each measurement runs in its own process, so its peak RSS is its own.
Counts must be equal or the bench fails.

Usage: python bench/trainer_view.py [N]   (default 100000)

Reading the numbers: both paths render every conversation with the library's own code
and tokenize it once with the same tokenizer (the no-markers loop tokenizes each
assistant prefix too). The "floor" line times the tokenizer alone on the rendered texts
(SentencePiece alone on the message texts for Mistral), work no exact method can skip:
with C cores nothing can beat the loop by more than C x loop CPU / floor CPU, rendering
not even counted. The wall-clock gain therefore grows with the number of cores; the CPU
ratio is the machine-independent part. The machine is shared: the load average is
printed at the start and the end, and wall times under load are not comparable.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")  # no "PyTorch was not found"
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fixtures" / "samples"  # fixtures/SOURCES.md
BATCH = 512


def make_conversations(n: int) -> list[list[dict[str, str]]]:
    alpaca = json.loads((SAMPLES / "alpaca_en_demo.json").read_text())
    dummy = json.loads((SAMPLES / "dummy_conversation.json").read_text())
    out: list[list[dict[str, str]]] = []
    for i in range(n):
        if i % 2:
            r = alpaca[(i // 2) % len(alpaca)]
            prompt = (r["instruction"] + "\n\n" + r["input"]).strip()
            msgs = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": r["output"]},
            ]
        else:
            r = dummy[(i // 2) % len(dummy)]
            msgs = [
                {"role": "user" if c["from"] == "human" else "assistant", "content": c["value"]}
                for c in r["conversations"]
            ]
        if i % 4 < 2:
            msgs = [{"role": "system", "content": f"You are assistant #{i % 7}."}, *msgs]
        out.append(msgs)
    return out


def _sample_texts() -> Any:
    for r in json.loads((SAMPLES / "alpaca_en_demo.json").read_text()):
        yield from (r["instruction"], r["input"], r["output"])
    for name in ("dpo_en_demo.json", "glaive_toolcall_en_demo.json", "dummy_conversation.json"):
        for r in json.loads((SAMPLES / name).read_text()):
            for c in r.get("conversations", []):
                yield c.get("value", "")


def build_bench_tokenizers(out: Path) -> dict[str, Path]:
    """32k-vocab byte-level BPE (a real model's vocabulary size) trained on every public
    sample, saved with the fixture templates (ChatML with and without generation
    markers). The 2k-vocab test tokenizers make tokenization unrealistically costly."""
    import build_tokenizers as bt
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=32000,
        special_tokens=["<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_sample_texts(), trainer)
    dirs = {}
    for name, template in (("chatml_gen", bt.CHATML_GEN), ("chatml", bt.CHATML)):
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|im_end|>"
        )
        fast.chat_template = template
        fast.save_pretrained(str(out / name))
        dirs[name] = out / name
    return dirs


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def job_loop_generation(folder: str, convs: list[Any]) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)

    def run() -> tuple[int, int]:
        total = trainable = 0
        for m in convs:
            out = tok.apply_chat_template(
                m, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
            )
            total += len(out["input_ids"])
            trainable += sum(out["assistant_masks"])
        return total, trainable

    return run


def job_loop_prefix(folder: str, convs: list[Any]) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)

    def run() -> tuple[int, int]:
        total = trainable = 0
        for m in convs:
            total += len(tok.apply_chat_template(m, tokenize=True)["input_ids"])
            for i, msg in enumerate(m):
                if msg["role"] == "assistant":
                    p = tok.apply_chat_template(m[:i], tokenize=True, add_generation_prompt=True)
                    f = tok.apply_chat_template(m[: i + 1], tokenize=True)
                    trainable += len(f["input_ids"]) - len(p["input_ids"])
        return total, trainable

    return run


def job_loop_mistral(spec: str, convs: list[Any]) -> Any:
    import importlib.resources

    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    from curate.trainer.backends import MISTRAL_FILES

    path = importlib.resources.files("mistral_common") / "data" / MISTRAL_FILES[spec]
    tok = MistralTokenizer.from_file(str(path), mode=ValidationMode.finetuning)

    def run() -> tuple[int, int]:
        total = 0
        for m in convs:
            total += len(tok.encode_chat_completion(ChatCompletionRequest(messages=m)).tokens)
        return total, -1

    return run


def job_batched(spec: str, convs: list[Any]) -> Any:
    from curate.trainer import load_tokenizer

    tok = load_tokenizer(spec)

    def run() -> tuple[int, int]:
        total = trainable = 0
        for k in range(0, len(convs), BATCH):
            for r in tok.render_batch([(m, None) for m in convs[k : k + BATCH]]):
                total += r.n_tokens  # type: ignore[union-attr]
                trainable += r.trainable  # type: ignore[union-attr]
        return total, trainable

    return run


def job_view(spec: str, path: str, workers: int = 2) -> Any:
    from curate.trainer import load_tokenizer
    from curate.trainer.view import scan

    tok = load_tokenizer(spec)  # loaded outside the timer, like the loops' tokenizers

    def run() -> tuple[int, int]:
        _, result = scan([path], tok, max_length=None, workers=workers)
        s = result.summary()
        return s["tokens"]["total"], s["trainable_tokens"]["total"]

    return run


def job_floor_hf(folder: str, convs: list[Any]) -> Any:
    """The Rust tokenizer alone on the already rendered conversations, one thread: work
    every exact method pays (the loop and curate alike)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    texts = tok.apply_chat_template(convs, tokenize=False)
    backend = tok.backend_tokenizer

    def run() -> tuple[int, int]:
        total = 0
        for k in range(0, len(texts), BATCH):
            total += sum(map(len, backend.encode_batch(texts[k : k + BATCH], False)))
        return total, -1

    return run


def job_floor_mistral(spec: str, convs: list[Any]) -> Any:
    """SentencePiece alone on every message's text (control tokens left out)."""
    import importlib.resources

    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    from curate.trainer.backends import MISTRAL_FILES

    path = importlib.resources.files("mistral_common") / "data" / MISTRAL_FILES[spec]
    inner = MistralTokenizer.from_file(str(path)).instruct_tokenizer.tokenizer
    texts = [m["content"] for c in convs for m in c]

    def run() -> tuple[int, int]:
        return sum(len(inner.encode(t, bos=False, eos=False)) for t in texts), -1

    return run


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_all_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _child(q: Any, fn: str, args: tuple[Any, ...]) -> None:
    run = globals()[fn](*args)  # imports and tokenizer loading: not timed
    t0, c0 = time.perf_counter(), _cpu()
    res = run()
    q.put((res, time.perf_counter() - t0, _cpu() - c0, _peak_all_mb()))


def measure(fn: str, *args: Any) -> tuple[tuple[int, int], float, float, float]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn, args))
    p.start()
    res = q.get()
    p.join()
    return res  # type: ignore[no-any-return]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sys.path.insert(0, str(ROOT / "fixtures" / "trainer"))
    tmp = tempfile.mkdtemp(prefix="curate-bench-")
    dirs = build_bench_tokenizers(Path(tmp))
    convs = make_conversations(n)
    data = Path(tmp) / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": m}) + "\n" for m in convs))
    print(
        f"{n:,} conversations ({data.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} cores, "
        f"load average (1, 5, 15 min) {os.getloadavg()}"
    )
    base_rss = _peak_mb()
    print(f"parent RSS before jobs: {base_rss:.0f} MB (the children start from this fork)")
    rows = [
        ("chatml_gen", "job_loop_generation", "job_floor_hf", str(dirs["chatml_gen"])),
        ("chatml", "job_loop_prefix", "job_floor_hf", str(dirs["chatml"])),
        ("mistral:v3", "job_loop_mistral", "job_floor_mistral", "v3"),
    ]
    cores = os.cpu_count() or 1
    ok = True
    print(
        "wall s / CPU s (all threads and worker processes) / peak RSS of the measuring "
        "process or its largest worker"
    )
    for label, loop_fn, floor_fn, arg in rows:
        spec = arg if label != "mistral:v3" else "mistral:v3"
        (lt, la), l_s, l_cpu, l_mb = measure(loop_fn, arg, convs)
        (bt, ba), b_s, b_cpu, b_mb = measure("job_batched", spec, convs)
        (vt, va), v_s, v_cpu, v_mb = measure("job_view", spec, str(data), 2)
        _, _, f_cpu, _ = measure(floor_fn, arg, convs)
        equal = lt == bt == vt and (la == -1 or la == ba == va)
        ok = ok and equal
        print(
            f"{label:11s} loop {l_s:6.1f} s / {l_cpu:6.1f} cpu / {l_mb:4.0f} MB | batched inline "
            f"{b_s:6.1f} s / {b_cpu:6.1f} cpu / {b_mb:4.0f} MB ({l_s / b_s:3.1f}x) | trainer_view "
            f"2 workers from JSONL {v_s:6.1f} s / {v_cpu:6.1f} cpu / {v_mb:4.0f} MB "
            f"({l_s / v_s:3.1f}x) | tokens {bt:,} trainable {ba:,} equal: {equal}"
        )
        print(
            f"{'':11s} CPU seconds the loop needs per CPU second of: batched inline "
            f"{l_cpu / b_cpu:3.1f}x, trainer_view {l_cpu / v_cpu:3.1f}x (wall-clock ratios "
            "above depend on how busy the machine's cores are)"
        )
        print(
            f"{'':11s} floor: the tokenizer alone takes {f_cpu:5.1f} cpu "
            f"({100 * f_cpu / l_cpu:3.0f}% of the loop's CPU), so with {cores} cores no exact "
            f"method can be more than {cores * l_cpu / f_cpu:3.1f}x faster than the loop"
        )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    if not ok:
        raise SystemExit("counts differ from the baseline")


if __name__ == "__main__":
    main()

"""The Ray engine gives the local engine's results, record for record.

Runs on a real Ray cluster: ``RAY_ADDRESS``, else the two-node cluster
``.ci/services/ray.sh`` starts (its address is in ``~/.cache/curate/ray-ci.json``).
Skipped when Ray is not installed or no cluster answers at that address.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from curate.engine import dedup, resolve_engine, split, validate

DATA = Path(__file__).parent / "data"
INPUTS = [str(DATA / "mixed_1.jsonl"), str(DATA / "mixed_2.jsonl")]
STATE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curate" / "ray-ci.json"


def cluster_address() -> str | None:
    """The test cluster's address, when one answers there."""
    address = os.environ.get("RAY_ADDRESS")
    if not address and STATE.exists():
        state = json.loads(STATE.read_text())
        address = state["address"]
        if state.get("auth_mode") == "disabled":
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not address:
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return address
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def ray_address():
    pytest.importorskip("ray.data", reason="Ray is not installed: pip install 'curate[ray]'")
    address = cluster_address()
    if address is None:
        pytest.skip("no Ray cluster reachable (start one with .ci/services/ray.sh)")
    from curate.engine.ray import session

    with session(address) as ray:
        assert sum(n["Alive"] for n in ray.nodes()) >= 2, "the test cluster has two nodes"
        yield address


def outputs(folder: Path, rename: dict[str, str]) -> dict[str, str]:
    """Every output file's text, with the run's own file names replaced."""
    out = {}
    for p in sorted(folder.iterdir()):
        text = p.read_text(encoding="utf-8")
        for a, b in rename.items():
            text = text.replace(a, b)
        out[p.name.replace(*next(iter(rename.items())))] = text
    return out


def test_validate_same_findings(ray_address):
    from curate.validate import standard_validators

    reports = []
    for engine in ("local", "ray"):
        v, c = standard_validators(content=True, duplicates="near")
        rep = validate(INPUTS, engine=engine, ray_address=ray_address, validators=v,
                       corpus_validators=c)  # fmt: skip
        reports.append(rep.to_dict())
    local, on_ray = reports
    assert local["findings"], "the fixture has findings to compare"
    assert on_ray == local


def test_dedup_same_records_and_clusters(ray_address, tmp_path):
    summaries = {}
    for engine in ("local", "ray"):
        folder = tmp_path / engine
        folder.mkdir()
        s = dedup(INPUTS, folder / "out.jsonl", engine=engine, ray_address=ray_address)
        summaries[engine] = s.to_dict()
    local, on_ray = (outputs(tmp_path / e, {"/local/": "/x/", "/ray/": "/x/"})
                     for e in ("local", "ray"))  # fmt: skip
    assert set(local) == {"out.jsonl", "out.rejected.jsonl", "out.clusters.jsonl"}
    for name in local:
        assert on_ray[name].splitlines() == local[name].splitlines(), name
    for key in ("output", "rejects", "clusters_file"):
        summaries["local"].pop(key), summaries["ray"].pop(key)
    for f in (*summaries["local"]["findings"], *summaries["ray"]["findings"]):
        f["message"] = f["message"].replace("/local/", "/x/").replace("/ray/", "/x/")
    assert summaries["ray"] == summaries["local"]
    s = summaries["local"]
    # the fixture exercises every kind of removal
    assert s["removed_exact"] and s["removed_near"] and s["removed_contained"]
    assert s["removed_invalid"] and s["clusters"] and s["conflicting_answers"]


def test_dedup_progress_moves_with_every_step_and_ends_full(ray_address, tmp_path):
    """The CLI's bar counts the inputs' bytes: on Ray the features move it as their blocks
    finish, then each grouping step and the write pass, and it ends full, as on the local
    engine (where pass 1 moves it)."""
    total = sum(os.path.getsize(p) for p in INPUTS)
    for engine in ("local", "ray"):
        steps: list[int] = []
        dedup(INPUTS, tmp_path / f"{engine}.jsonl", engine=engine, ray_address=ray_address,
              progress=steps.append)  # fmt: skip
        assert all(n > 0 for n in steps), steps
        assert sum(steps) == total, (engine, sum(steps), total)
        if engine == "ray":  # not only the write pass (a line at a time): each step too
            assert sum(n >= 0.03 * total for n in steps) >= 7, steps


@pytest.mark.parametrize(
    "options",
    [{"scope": "user", "keep": "first"}, {"near": False}, {"threshold": 0.6, "containment": False}],
    ids=["user-first", "exact-only", "loose-no-containment"],
)
def test_dedup_options_same_records(ray_address, tmp_path, options):
    texts = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "out.jsonl"
        out.parent.mkdir()
        s = dedup(INPUTS, out, engine=engine, ray_address=ray_address, **options)
        texts[engine] = [
            p.read_text().replace(f"/{engine}/", "/x/")
            for p in (out, out.with_name("out.rejected.jsonl"), out.with_name("out.clusters.jsonl"))
        ]
        texts[engine].append(s.kept)
    assert texts["ray"] == texts["local"]


def test_dedup_empty_and_unreadable_only(ray_address, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text("\n{not json\n\n")
    got = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        s = dedup([src], out, engine=engine, ray_address=ray_address).to_dict()
        got[engine] = (
            s["read"],
            s["kept"],
            s["removed_invalid"],
            s["first_invalid"],
            out.read_text(),
            out.with_name(f"{engine}.rejected.jsonl").read_text(),
        )
    assert got["ray"] == got["local"]
    assert got["ray"][:4] == (1, 0, 1, f"{src}:2")


def test_split_same_assignment(ray_address, tmp_path):
    from curate.split import SplitOptions

    opts = SplitOptions(eval_fraction=0.2, seed=3)
    manifests = {}
    for engine in ("local", "ray"):
        manifests[engine] = split(INPUTS[0], tmp_path / engine, opts, engine=engine,
                                  ray_address=ray_address)  # fmt: skip
    local = outputs(tmp_path / "local", {"/local": "/x"})
    on_ray = outputs(tmp_path / "ray", {"/ray": "/x"})
    assert set(local) >= {"train.jsonl", "eval.jsonl", "rejected.jsonl", "manifest.json"}
    for name in local:
        if name != "manifest.json":  # it records the sha256 of axolotl.yaml, which names -o
            assert on_ray[name] == local[name], name
    for m in manifests.values():
        m.pop("files")
    assert manifests["ray"] == manifests["local"]


def test_connected_components_match_scipy(ray_address):
    import numpy as np
    import pyarrow as pa
    import ray.data as rd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as scipy_cc

    from curate.engine.ray import connected_components

    rng = np.random.default_rng(19)
    u = np.concatenate([rng.integers(0, 600, 400), np.arange(1000, 1100)])  # and a chain
    v = np.concatenate([rng.integers(0, 600, 400), np.arange(1001, 1101)])
    rows = connected_components(rd.from_arrow(pa.table({"u": u, "v": v})), 4).take_all()
    got = {r["node"]: r["label"] for r in rows}
    _, comp = scipy_cc(coo_matrix((np.ones(len(u)), (u, v)), shape=(1101, 1101)), directed=False)
    linked = np.unique(np.concatenate([u[u != v], v[u != v]]))
    smallest: dict[int, int] = {}
    for x in linked.tolist():
        smallest.setdefault(int(comp[x]), x)
    assert got == {x: smallest[int(comp[x])] for x in linked.tolist()}


LINEAGE_PROBE = """
import os, sys, ray
seen = []
real = ray.init
def watch(*args, **kwargs):  # the real init, noting what Ray reads when it starts
    seen.append(os.environ.get("RAY_max_lineage_bytes"))
    return real(*args, **kwargs)
ray.init = watch
from curate.engine.ray import session
with session(sys.argv[1]):
    pass
print(seen[0], os.environ.get("RAY_max_lineage_bytes"))
"""


@pytest.mark.parametrize("preset", [None, "12345678"])
def test_the_driver_caps_rays_lineage(ray_address, preset):
    """Ray reads ``RAY_max_lineage_bytes`` when the driver joins: curate sets 64 MiB for
    that moment (a 1M dedup's driver tracked 2,358 references with Ray's 1 GB default,
    fewer than 1,000 capped; ``bench/RESULTS.md``), unless the user set it, and leaves the
    environment as it was."""
    from curate.engine.ray import LINEAGE_BYTES

    env = {k: v for k, v in os.environ.items() if k != "RAY_max_lineage_bytes"}
    if preset:
        env["RAY_max_lineage_bytes"] = preset
    r = subprocess.run([sys.executable, "-c", LINEAGE_PROBE, ray_address], env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    during, after = r.stdout.split()
    assert during == (preset or str(LINEAGE_BYTES))
    assert after == (preset or "None")


def test_engine_names():
    assert resolve_engine(None, {"engine": "ray"}) == "ray"
    assert resolve_engine("local", {"engine": "ray"}) == "local"


def test_missing_ray_names_the_extra(tmp_path):
    # a Python where `import ray` fails: the engine says which extra to install
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from curate.engine import check_engine\n"
        "from curate.records import CurateError\n"
        "try:\n    check_engine('ray')\nexcept CurateError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'curate[ray]'" in out.stdout


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from curate.cli import main; main()"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-c", code, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_cli_engine_ray_same_outputs(ray_address, tmp_path):
    """``--engine ray --ray-address`` on validate, dedup and split: the local outputs."""
    for engine in ("local", "ray"):
        ray = ["--engine", engine, "--ray-address", ray_address]
        d = tmp_path / engine
        d.mkdir()
        r = _cli("validate", *INPUTS, "--json", "--no-content", *ray)
        assert r.returncode == 1 and r.stdout, r.stderr  # the fixture has errors
        (d / "validate.json").write_text(r.stdout)
        r = _cli("dedup", *INPUTS, "-o", str(d / "kept.jsonl"), "--allow-invalid", *ray)
        assert r.returncode == 0, r.stderr
        r = _cli("split", INPUTS[0], "-o", str(d / "split"), "--seed", "1", *ray)
        assert r.returncode == 0, r.stderr
    for name in ("validate.json", "kept.jsonl", "kept.rejected.jsonl", "kept.clusters.jsonl",
                 "split/train.jsonl", "split/eval.jsonl", "split/rejected.jsonl"):  # fmt: skip
        local = (tmp_path / "local" / name).read_text().replace("/local/", "/x/")
        assert (tmp_path / "ray" / name).read_text().replace("/ray/", "/x/") == local, name


@pytest.mark.parametrize("reasoning", ["exclude", "include"])
def test_dedup_takes_every_local_option(ray_address, tmp_path, reasoning):
    """dedup on Ray binds dedup_paths' own signature: an option added there (here
    ``reasoning``) changes the Ray result as it changes the local one."""
    src = tmp_path / "in.jsonl"
    rows = []
    for trace in ("first think about it", "a different trace entirely, longer"):
        rows.append(json.dumps({"messages": [
            {"role": "user", "content": "what is the capital of france"},
            {"role": "assistant", "content": "paris", "reasoning_content": trace},
        ]}))  # fmt: skip
    src.write_text("\n".join(rows) + "\n")
    got = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "out.jsonl"
        out.parent.mkdir()
        s = dedup([src], out, engine=engine, ray_address=ray_address, reasoning=reasoning)
        rejected = out.with_name("out.rejected.jsonl").read_text()
        got[engine] = (s.kept, s.reasoning, out.read_text(), rejected.replace(f"/{engine}/", "/x/"))
    assert got["ray"] == got["local"]
    assert got["ray"][:2] == ((1, "exclude") if reasoning == "exclude" else (2, "include"))


def test_dedup_unknown_option_is_refused(ray_address, tmp_path):
    with pytest.raises(TypeError, match="no_such_option"):
        dedup([str(DATA / "mixed_1.jsonl")], tmp_path / "o.jsonl", engine="ray",
              ray_address=ray_address, no_such_option=1)  # fmt: skip

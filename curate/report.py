"""``curate report``: one self-contained HTML page to read before paying for a training run.

Summary (examples, tokens, cost per model, epochs), histograms of tokens per example
against the model's limit and of turns per conversation, the role, source and script mix,
findings by code with examples, and duplicate clusters. Plots are inline SVG drawn here
(no matplotlib, no JavaScript, no network): the file opens offline, anywhere.

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.jsonl")
    >>> row = {"messages": [{"role": "user", "content": "hi"},
    ...                     {"role": "assistant", "content": "hello"}]}
    >>> _ = open(p, "w").write(json.dumps(row) + "\\n")
    >>> data = build_report([p], model="gpt-3.5-turbo")
    >>> data["summary"]["n_examples"], data["summary"]["tokens_total"]
    (1, 13)
    >>> "<svg" in render_html(data)
    True
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

from curate.records import Example, InputError

#: examples above which duplicate clusters are exact (by id) instead of near (MinHash)
NEAR_DUP_MAX = 50_000
FINDING_EXAMPLES = 5


# -- data ------------------------------------------------------------------------------------


def _validate(files: list[str], model: str, max_tokens: int | None) -> tuple[Any, Any]:
    """The statistics table and ``curate validate``'s report (its default checks: format,
    length, content, exact duplicates; ``None`` without JSONL inputs). When every input is
    JSONL, both come from one validate pass (``stats=True``), which reads each file once
    and builds the rows in the same workers, in file and line order as
    :func:`curate.stats.stats_table` would."""
    from curate.stats import input_format, stats_table
    from curate.validate import standard_validators, validate_path

    jsonl = [f for f in files if input_format(f) == "jsonl"]
    rep = None
    if jsonl:
        validators, corpus = standard_validators()
        rep = validate_path(
            jsonl,
            model=model,
            max_tokens=max_tokens,
            validators=validators,
            corpus_validators=corpus,
            stats=len(jsonl) == len(files),
        )
    if rep is not None and rep.stats_frames:
        return rep.stats_table(), rep
    return stats_table(files, model=model, max_tokens=max_tokens), rep


def _findings(files: list[str], table: Any, rep: Any) -> dict[str, Any]:
    """Findings by code: JSONL from ``curate validate``'s report (``rep``), so the report
    agrees with it; other inputs from the per-example codes of the table."""
    from curate.stats import input_format

    by_code: dict[str, dict[str, Any]] = {}
    jsonl = [f for f in files if input_format(f) == "jsonl"]
    if rep is not None:
        for code, n in rep.total.findings_by_code.items():
            by_code[code] = {"code": code, "count": n, "severity": None, "examples": []}
        for f in rep.findings:
            entry = by_code[f.code]
            entry["severity"] = entry["severity"] or f.severity.value
            if len(entry["examples"]) < FINDING_EXAMPLES:
                entry["examples"].append({"where": str(f.location), "message": f.message})
    other = table.filter(~table["file"].is_in(jsonl)) if jsonl else table
    for file, line, row, codes in other.select("file", "line", "row", "codes").iter_rows():
        for code in filter(None, (codes or "").split(",")):
            entry = by_code.setdefault(
                code, {"code": code, "count": 0, "severity": "error", "examples": []}
            )
            entry["count"] += 1
            if len(entry["examples"]) < FINDING_EXAMPLES:
                where = f"{file}:{line}" if line is not None else f"{file}#{row}"
                entry["examples"].append({"where": where, "message": code})
    return {
        "by_code": sorted(by_code.values(), key=lambda e: (-e["count"], e["code"])),
        "total": sum(e["count"] for e in by_code.values()),
    }


def _duplicates(files: list[str], table: Any) -> dict[str, Any]:
    """Duplicate clusters: near duplicates through ``curate.dedup.cluster_keys`` when it is
    available and the data is small enough to hold, else exact duplicates by id."""
    keys: list[str] | None = None
    method = "exact (same content id)"
    try:
        from curate.dedup import cluster_keys  # type: ignore[attr-defined]
    except ImportError:
        cluster_keys = None
    if cluster_keys is not None and table.height <= NEAR_DUP_MAX:
        from curate.stats import iter_examples

        # the lines that are no example are in the report's findings already
        examples: list[Example] = [
            ex for batch in iter_examples(files, on_finding=lambda f: None) for ex in batch
        ]
        if len(examples) == table.height:
            keys = list(cluster_keys(examples, threshold=0.8))
            method = "near (MinHash, Jaccard >= 0.8) and exact"
    if keys is None:
        keys = table["id"].to_list()
    where = [
        f"{f}:{ln}" if ln is not None else f"{f}#{r}"
        for f, ln, r in table.select("file", "line", "row").iter_rows()
    ]
    groups: dict[str, list[str]] = {}
    for k, w in zip(keys, where, strict=True):
        groups.setdefault(k, []).append(w)
    clusters = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
    return {
        "method": method,
        "n_clusters": len(clusters),
        "n_duplicates": sum(len(g) - 1 for g in clusters),
        "clusters": [{"size": len(g), "members": g[:8]} for g in clusters[:20]],
    }


def build_report(
    paths: Sequence[str | os.PathLike[str]],
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    epochs: int | None = None,
    price: float | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as a JSON-able dict (``curate report --json``)."""
    import polars as pl

    from curate.stats import ROLES
    from curate.tokens import MODELS, billing_tokens, default_epochs, model_spec

    spec = model_spec(model)
    limit = max_tokens if max_tokens is not None else spec.max_tokens
    files = [str(p) for p in paths]
    table, rep = _validate(files, model, max_tokens)
    n = table.height
    if n == 0:
        raise InputError(
            f"{', '.join(files)}: no examples to report on (an empty file, or only blank "
            "lines); check the step that wrote it."
        )
    totals = table["tokens_total"].drop_nulls()
    n_epochs = epochs if epochs is not None else default_epochs(totals.len())
    costs = []
    for m in MODELS.values():
        m_limit = limit if m.name == spec.name else m.max_tokens
        unit = price if (price is not None and m.name == spec.name) else m.price_per_million
        billed = billing_tokens(totals.to_list(), m_limit)
        costs.append(
            {
                "model": m.name,
                "max_tokens": m_limit,
                "billing_tokens": billed,
                "price_per_million": unit,
                "cost_usd": round(billed * n_epochs * unit / 1_000_000, 4),
                "approximate": m.encoding != spec.encoding,
            }
        )

    def dist(col: str) -> dict[str, Any]:
        s = table[col].drop_nulls()
        if s.len() == 0:
            return {}
        return {
            "min": s.min(),
            "median": float(s.median()),  # type: ignore[arg-type]
            "mean": round(float(s.mean()), 2),  # type: ignore[arg-type]
            "p95": float(s.quantile(0.95, interpolation="linear")),  # type: ignore[arg-type]
            "max": s.max(),
        }

    def mix(col: str) -> list[list[Any]]:
        vc = table[col].fill_null("(none)").value_counts(sort=True)
        return [[str(v) if v != "" else "(empty)", int(c)] for v, c in vc.iter_rows()]

    n_too_long = int((totals > limit).sum()) if totals.len() else 0
    summary = {
        "inputs": files,
        "n_examples": n,
        "n_counted": totals.len(),
        "tokens_total": int(totals.sum()) if totals.len() else 0,
        "tokens_assistant": int(table["tokens_assistant"].sum() or 0),
        "model": spec.name,
        "encoding": spec.encoding,
        "max_tokens": limit,
        "epochs": n_epochs,
        "epochs_default": epochs is None,
        "n_too_long": n_too_long,
        "share_with_system": round(float(table["has_system"].cast(pl.Float64).mean() or 0), 4),
        "share_with_tools": round(float(table["uses_tools"].cast(pl.Float64).mean() or 0), 4),
    }
    return {
        "summary": summary,
        "costs": costs,
        "tokens_per_example": dist("tokens_total"),
        "turns_per_conversation": dist("n_turns"),
        "tokens_values": totals.to_list(),
        "turns_values": table["n_turns"].drop_nulls().to_list(),
        "roles": {
            "tokens": {r: int(table[f"tokens_{r}"].sum() or 0) for r in ROLES},
            "combinations": mix("roles"),
        },
        "sources": mix("source"),
        "formats": mix("format"),
        "scripts": mix("script"),
        "findings": _findings(files, table, rep),
        "duplicates": _duplicates(files, table),
    }


# -- SVG -------------------------------------------------------------------------------------

_W, _H, _PAD_L, _PAD_B, _PAD_T, _PAD_R = 640, 250, 56, 40, 26, 16


def _num(v: float) -> str:
    if abs(v) >= 1_000_000:
        return f"{v / 1_000_000:.1f}M"
    if abs(v) >= 10_000:
        return f"{v / 1000:.0f}k"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.2f}"


def histogram_svg(
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    limit: float | None = None,
    limit_label: str = "limit",
    bins: int = 30,
    integer: bool = False,
) -> str:
    """An SVG histogram; ``limit`` draws a labelled vertical line (or a note when the limit
    lies far beyond the data).

    Example:
        >>> s = histogram_svg([1, 2, 2, 3], title="t", xlabel="x", limit=10)
        >>> s.startswith("<svg") and "limit" in s
        True
    """
    esc = html.escape
    if not values:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" '
            f'width="{_W}" height="40"><text x="8" y="24">no data</text></svg>'
        )
    lo, hi = float(min(values)), float(max(values))
    show_limit = limit is not None and limit <= hi * 1.5
    if show_limit and limit is not None:
        hi = max(hi, float(limit))
    if integer and hi - lo + 1 <= bins:
        edges = [lo - 0.5 + i for i in range(int(hi - lo) + 2)]
    else:
        width = (hi - lo) / bins if hi > lo else 1.0
        edges = [lo + i * width for i in range(bins + 1)]
    nb = len(edges) - 1
    counts = [0] * nb
    span = edges[-1] - edges[0]
    for v in values:
        i = int((float(v) - edges[0]) / span * nb) if span else 0
        counts[min(max(i, 0), nb - 1)] += 1
    top = max(counts) or 1
    pw, ph = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def x(v: float) -> float:
        return _PAD_L + (v - edges[0]) / span * pw if span else _PAD_L

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" '
        f'class="chart" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}">',
        f"<title>{esc(title)}</title>",
    ]
    bw = pw / nb
    for i, c in enumerate(counts):
        h = c / top * ph
        out.append(
            f'<rect class="bar" x="{_PAD_L + i * bw + 0.5:.1f}" y="{_PAD_T + ph - h:.1f}" '
            f'width="{max(bw - 1, 0.5):.1f}" height="{h:.1f}" fill="#4f7cac">'
            f"<title>{_num(edges[i])} to {_num(edges[i + 1])}: {c:,}</title></rect>"
        )
    base = _PAD_T + ph
    out.append(f'<line x1="{_PAD_L}" y1="{base}" x2="{_W - _PAD_R}" y2="{base}" stroke="#333"/>')
    out.append(f'<line x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{base}" stroke="#333"/>')
    if integer and nb <= bins:
        ticks = [(edges[i] + edges[i + 1]) / 2 for i in range(nb)]
    else:
        ticks = [edges[0] + span * k / 4 for k in range(5)]
    for v in ticks:
        out.append(
            f'<text x="{x(v):.1f}" y="{base + 14}" font-size="11" text-anchor="middle">'
            f"{_num(round(v, 2))}</text>"
        )
    out.append(
        f'<text x="{_PAD_L - 6}" y="{_PAD_T + 10}" font-size="11" text-anchor="end">{top:,}</text>'
    )
    out.append(f'<text x="{_PAD_L - 6}" y="{base}" font-size="11" text-anchor="end">0</text>')
    out.append(
        f'<text x="{_PAD_L + pw / 2}" y="{_H - 6}" font-size="12" text-anchor="middle">'
        f"{esc(xlabel)}</text>"
    )
    if limit is not None:
        if show_limit:
            lx = x(float(limit))
            out.append(
                f'<line class="limit" x1="{lx:.1f}" y1="{_PAD_T}" x2="{lx:.1f}" y2="{base}" '
                'stroke="#c0392b" stroke-width="2" stroke-dasharray="5,3"/>'
            )
            out.append(
                f'<text x="{lx - 4:.1f}" y="{_PAD_T - 8}" font-size="11" fill="#c0392b" '
                f'text-anchor="end">{esc(limit_label)} {float(limit):,.0f}</text>'
            )
        else:
            share = max(values) / float(limit) * 100
            out.append(
                f'<text class="limit" x="{_W - _PAD_R}" y="{_PAD_T - 8}" font-size="11" '
                f'fill="#c0392b" text-anchor="end">{esc(limit_label)} {float(limit):,.0f} is off '
                f"the chart: the longest example uses {share:.1f}% of it</text>"
            )
    out.append("</svg>")
    return "".join(out)


def bars_svg(items: Sequence[Sequence[Any]], *, title: str, max_items: int = 12) -> str:
    """Horizontal bars for ``[(label, count), ...]`` with the count and share printed.

    Example:
        >>> "50.0%" in bars_svg([("a", 1), ("b", 1)], title="mix")
        True
    """
    esc = html.escape
    shown = list(items[:max_items])
    rest = sum(int(c) for _, c in items[max_items:])
    if rest:
        shown.append((f"({len(items) - max_items} more)", rest))
    total = sum(int(c) for _, c in items) or 1
    top = max((int(c) for _, c in shown), default=1) or 1
    row_h, label_w = 22, 200
    h = row_h * max(len(shown), 1) + 8
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" '
        f'class="chart" width="{_W}" height="{h}" viewBox="0 0 {_W} {h}">',
        f"<title>{esc(title)}</title>",
    ]
    bar_max = _W - label_w - 150
    for i, (label, c) in enumerate(shown):
        y = 4 + i * row_h
        w = int(c) / top * bar_max
        text = str(label)
        short = text if len(text) <= 30 else text[:29] + "…"
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"<title>{esc(text)}</title>{esc(short)}</text>"
        )
        out.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="16" '
            'fill="#6a9f58"/>'
        )
        out.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{int(c):,} ({int(c) / total:.1%})</text>"
        )
    out.append("</svg>")
    return "".join(out)


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:980px;color:#222;padding:0 1rem}h1{font-size:1.6rem}
h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}td.l,th.l{text-align:left}.kpi{display:flex;flex-wrap:wrap;gap:1rem}
.kpi div{background:#f4f7fb;border-radius:6px;padding:.6rem 1rem;min-width:140px}
.kpi b{display:block;font-size:1.4rem}.error{color:#c0392b}.warning{color:#b9770e}
.info{color:#2e86c1}code{background:#f3f3f3;padding:0 .2rem}.muted{color:#777}
"""


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], left: Sequence[int] = (0,)) -> str:
    """An HTML table; ``rows`` hold HTML already escaped; columns in ``left`` align left."""
    esc = html.escape
    th = "".join(
        f'<th class="{"l" if i in left else ""}">{esc(h)}</th>' for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i in left else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def render_html(data: dict[str, Any]) -> str:
    """The report page for :func:`build_report`'s dict: one HTML string, no external
    resources (no scripts, stylesheets, fonts or images from anywhere)."""
    esc = html.escape
    s = data["summary"]
    tk = data["tokens_per_example"]
    cost_main = next((c for c in data["costs"] if c["model"] == s["model"]), None)
    kpis = [
        ("examples", f"{s['n_examples']:,}"),
        ("tokens", f"{s['tokens_total']:,}"),
        ("assistant tokens", f"{s['tokens_assistant']:,}"),
        ("epochs", f"{s['epochs']}" + (" (default)" if s["epochs_default"] else "")),
        (
            f"est. cost ({s['model']})",
            f"${cost_main['cost_usd']:,.2f}" if cost_main else "n/a",
        ),
        ("over the limit", f"{s['n_too_long']:,}"),
        ("findings", f"{data['findings']['total']:,}"),
        ("duplicate clusters", f"{data['duplicates']['n_clusters']:,}"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>curate report: {esc(', '.join(s['inputs']))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>curate report</h1>",
        f"<p class='muted'>{esc(', '.join(s['inputs']))}: model {esc(s['model'])} "
        f"({esc(s['encoding'])}), limit {s['max_tokens']:,} tokens per example.</p>",
        "<h2 id='summary'>Summary</h2><div class='kpi'>",
        *(f"<div id='kpi-{i}'>{esc(k)}<b>{esc(v)}</b></div>" for i, (k, v) in enumerate(kpis)),
        "</div>",
        f"<p>{s['share_with_system']:.1%} of examples have a system prompt; "
        f"{s['share_with_tools']:.1%} use tools. {s['n_counted']:,} of {s['n_examples']:,} "
        "examples could be counted (the rest have no valid messages list).</p>",
        "<h3>Cost per model</h3>",
        _table(
            ["model", "limit", "billing tokens", "epochs", "USD / 1M", "est. cost"],
            [
                [
                    esc(c["model"]) + (" *" if c["approximate"] else ""),
                    f"{c['max_tokens']:,}",
                    f"{c['billing_tokens']:,}",
                    str(s["epochs"]),
                    f"{c['price_per_million']:.2f}",
                    f"${c['cost_usd']:,.2f}",
                ]
                for c in data["costs"]
            ],
        ),
        f"<p class='muted'>Billing tokens cap each example at the model's limit; cost = billing "
        f"tokens × epochs × price. * counted with {esc(s['encoding'])}, the model uses another "
        "encoding: approximate.</p>",
        "<h2 id='tokens'>Tokens per example</h2>",
        _table(
            ["min", "median", "mean", "p95", "max"],
            [[_num(tk[k]) for k in ("min", "median", "mean", "p95", "max")]] if tk else [],
            left=(),
        ),
        histogram_svg(
            data["tokens_values"],
            title="tokens per example",
            xlabel="tokens per example",
            limit=s["max_tokens"],
            limit_label=f"{s['model']} limit",
        ),
        "<h2 id='turns'>Turns per conversation</h2>",
        histogram_svg(
            data["turns_values"],
            title="turns per conversation",
            xlabel="user turns per conversation",
            integer=True,
        ),
        "<h2 id='roles'>Roles</h2><h3>Tokens by role (content)</h3>",
        bars_svg([(r, n) for r, n in data["roles"]["tokens"].items() if n], title="tokens by role"),
        "<h3>Role combinations</h3>",
        bars_svg(data["roles"]["combinations"], title="role combinations"),
        "<h2 id='sources'>Sources</h2>",
        bars_svg(data["sources"], title="source mix"),
        "<h3>Input format</h3>",
        bars_svg(data["formats"], title="input format"),
        "<h3>Writing system</h3>",
        bars_svg(data["scripts"], title="writing system"),
        "<h2 id='findings'>Findings by code</h2>",
    ]
    f = data["findings"]
    if f["by_code"]:
        rows = []
        for e in f["by_code"]:
            sev = e["severity"] or "error"
            ex = "<br>".join(
                f"<code>{esc(x['where'])}</code> {esc(x['message'])}" for x in e["examples"]
            )
            rows.append(
                [
                    f"<b>{esc(e['code'])}</b>",
                    f"<span class='{sev}'>{sev}</span>",
                    f"{e['count']:,}",
                    ex,
                ]
            )
        parts.append(_table(["code", "severity", "count", "examples"], rows, left=(0, 3)))
    else:
        parts.append("<p>No findings.</p>")
    d = data["duplicates"]
    parts.append("<h2 id='duplicates'>Duplicate clusters</h2>")
    parts.append(
        f"<p>{d['n_clusters']:,} clusters, {d['n_duplicates']:,} examples beyond the first copy "
        f"(method: {esc(d['method'])}).</p>"
    )
    if d["clusters"]:
        parts.append(
            _table(
                ["size", "members"],
                [
                    [str(c["size"]), ", ".join(f"<code>{esc(m)}</code>" for m in c["members"])]
                    for c in d["clusters"]
                ],
                left=(1,),
            )
        )
    parts.append(
        "<p class='muted'>Written by curate report. Self-contained: no network needed.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    paths: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    epochs: int | None = None,
    price: float | None = None,
) -> dict[str, Any]:
    """Build the report and write the HTML page atomically; returns the report's data.
    The Python twin of ``curate report``."""
    from curate.stage import OutputPlan

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    plan = OutputPlan(paths, "report")
    plan.add("report", output)
    data = build_report(paths, model=model, max_tokens=max_tokens, epochs=epochs, price=price)
    page = render_html(data)
    with plan.writing():
        plan.write_text("report", page)
        plan.commit()
    return data


__all__ = ["bars_svg", "build_report", "histogram_svg", "render_html", "write_report"]


# ``curate.report(...)`` is the library function (curate.api) even once this module is imported
from curate.stage import callable_module  # noqa: E402

callable_module(__name__)

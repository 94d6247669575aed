"""``curate review``: push examples to Argilla, pull decisions back, run a local Argilla.

Thin wrappers over :mod:`curate.review.push`, :mod:`curate.review.pull` and
:mod:`curate.review.server` (same option names)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.console import console, err_console, print_json, progress_bar

review_app = typer.Typer(
    help="Review examples in Argilla: push findings, pull decisions (with an audit trail), "
    "or run a local Argilla server.",
    no_args_is_help=True,
)

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="Argilla server URL [default: $ARGILLA_API_URL, else the local server].",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Argilla API key [default: $ARGILLA_API_KEY or the local server's]. Visible to "
        "other local users in `ps`: prefer $ARGILLA_API_KEY.",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Local server data dir [default: the last `serve`'s, else "
        "~/.cache/curate/argilla-server].",
    ),
]
Workspace = Annotated[
    str | None, typer.Option("--workspace", help="Argilla workspace [default: your own/first].")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]


@review_app.command("push")
def push_cmd(
    input: Annotated[Path, typer.Argument(help="Canonical chat JSONL (as curate ingest writes).")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Argilla dataset [default: the file's name].")
    ] = None,
    workspace: Workspace = None,
    only_flagged: Annotated[
        bool, typer.Option("--only-flagged", help="Push only examples with findings.")
    ] = False,
    sample: Annotated[
        int | None, typer.Option("--sample", help="Push a deterministic sample of N.", min=1)
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --sample.")] = 0,
    duplicates: Annotated[
        bool, typer.Option(help="Run the duplicate checks too (duplicates suggest reject).")
    ] = True,
    reviewers_per_record: Annotated[
        int | None,
        typer.Option(
            "--reviewers-per-record",
            help="Answers needed per record (Argilla task distribution) [default: 1 for a new "
            "dataset].",
            min=1,
        ),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Lines not pushed, with the reason [default: INPUT.push.rejected.jsonl].",
        ),
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Send examples with their findings to an Argilla dataset (idempotent: re-push updates).

    Example: curate review push data/train.jsonl --dataset train --only-flagged
    """
    from curate.review.client import connect
    from curate.review.push import default_dataset_name, push

    client = connect(api_url, api_key, data_dir=data_dir)
    name = dataset or default_dataset_name(input)
    total = None if only_flagged else _count_lines(input)
    if sample is not None:
        total = sample if total is None else min(sample, total)
    with progress_bar(total, f"push {name}") as advance:
        result = push(
            input,
            dataset=name,
            workspace=workspace,
            client=client,
            only_flagged=only_flagged,
            sample=sample,
            seed=seed,
            duplicates=duplicates,
            reviewers_per_record=reviewers_per_record,
            rejects=rejects,
            progress=advance,
        )
    out = result.to_dict()
    if json_out:
        print_json(out)
        return
    skipped = ", ".join(f"{k}: {v}" for k, v in out["skipped"].items()) or "none"
    per = out["reviewers_per_record"]
    console.print(
        f"pushed {out['pushed']} of {out['read']} examples to {out['url']} "
        f"workspace {out['workspace']!r}, dataset {out['dataset']!r} "
        f"({out['flagged']} flagged, {out['not_selected']} not selected, skipped: {skipped}; "
        f"{per} reviewer{'s' if per != 1 else ''} per record) "
        f"in {out['seconds']} s ({out['records_per_second'] or 0:.0f} records/s)"
        + (f". Not pushed, with the reasons: {out['rejects']}" if out["rejects"] else ""),
        highlight=False,
    )
    for note in out.get("notes", []):  # what the dataset has no field for
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)


@review_app.command("pull")
def pull_cmd(
    dataset: Annotated[str, typer.Option("--dataset", help="Argilla dataset to pull.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="The chat JSONL that was pushed.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Kept (and corrected) examples.")],
    audit: Annotated[
        Path | None, typer.Option("--audit", help="Audit trail JSONL (appended to).")
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Rejected examples [default: OUTPUT.rejected.jsonl]."),
    ] = None,
    pending: Annotated[
        str, typer.Option("--pending", help="Records without a decision: keep, drop or fail.")
    ] = "keep",
    conflicts: Annotated[
        str, typer.Option("--conflicts", help="Reviewers disagree: majority or strict.")
    ] = "majority",
    workspace: Workspace = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Apply review decisions: accept keeps, reject moves to rejects, a correction replaces the
    last assistant reply; one audit line per reviewed record.

    Example: curate review pull --dataset train -i train.jsonl -o clean.jsonl --audit audit.jsonl
    """
    from curate.io import check_readable
    from curate.records import CurateError
    from curate.review.client import connect
    from curate.review.pull import CONFLICTS, PENDING, plan_outputs, pull

    if pending not in PENDING:
        raise CurateError(f"--pending must be one of {', '.join(PENDING)} (got {pending!r})")
    if conflicts not in CONFLICTS:
        raise CurateError(f"--conflicts must be one of {', '.join(CONFLICTS)} (got {conflicts!r})")
    # refuse an output that is the input or another output before anything else
    plan_outputs(check_readable(input), out=output, rejects=rejects, audit=audit)
    client = connect(api_url, api_key, data_dir=data_dir)
    with progress_bar(None, f"pull {dataset}") as advance:
        result = pull(
            input,
            client=client,
            dataset=dataset,
            workspace=workspace,
            out=output,
            rejects=rejects,
            audit=audit,
            pending=pending,
            conflicts=conflicts,
            progress=advance,
        )
    out = result.to_dict()
    if json_out:
        print_json(out)
        return
    outcomes = ", ".join(f"{k}: {v}" for k, v in out["outcomes"].items()) or "none"
    for line in _reviewer_lines(out):
        console.print(line, highlight=False)
    console.print(
        f"read {out['read']}: kept {out['kept']} ({out['corrected']} corrected), "
        f"rejected {out['rejected']}, not reviewed {out['not_reviewed']}; decisions: {outcomes}. "
        + (
            f"{out['not_in_input']} records of the dataset are not in {input} (another file?). "
            if out["not_in_input"]
            else ""
        )
        + f"Wrote {out['outputs']['out']}, {out['outputs']['rejects']}"
        + (f", {out['audit_lines']} audit lines to {out['outputs']['audit']}" if audit else "")
        + f" in {out['seconds']} s",
        highlight=False,
    )


@review_app.command("serve")
def serve_cmd(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1.", min=1, max=65535)
    ] = 6900,
    data_dir: DataDir = None,
    users: Annotated[
        int,
        typer.Option("--users", help="Create reviewer accounts reviewer-1 ... reviewer-N.", min=0),
    ] = 0,
    json_out: JsonOut = False,
) -> None:
    """Start a local Argilla server (web UI included, no Docker) in the background.

    The first run builds its own environment (about a minute). Data persists in --data-dir,
    which later commands find on their own. Credentials are kept in DATA_DIR/server.json
    (mode 600).

    Example: curate review serve --port 6900 --users 2
    """
    from curate.review.server import read_state, serve

    state = serve(port, data_dir, users=users, log=lambda m: err_console.print(f"[dim]{m}[/]"))
    if json_out:
        print_json(state)
        return
    where = _data_dir_flag(state["data_dir"])
    lines = [
        f"Argilla is running at {state['url']}",
        f"  username: {state['username']}",
        f"  password: {state['password']}",
        f"  api key:  {state['api_key']}",
        f"  data:     {state['data_dir']} (credentials in {state['state_file']})",
    ]
    known = (read_state(Path(state["data_dir"])) or {}).get("users") or {}
    for name in state.get("reviewers") or []:
        lines.append(f"  reviewer: {name}  password: {known.get(name, {}).get('password')}")
    lines.append(f"Stop it with `curate review stop{where}`.")
    console.print("\n".join(lines), highlight=False)


@review_app.command("stop")
def stop_cmd(data_dir: DataDir = None) -> None:
    """Stop the local Argilla server (data is kept).

    Example: curate review stop
    """
    from curate.review.server import resolve_data_dir, stop

    stopped = stop(data_dir)
    where = resolve_data_dir(data_dir)
    console.print(
        f"stopped: {', '.join(stopped)} (data dir {where})"
        if stopped
        else f"not running (data dir {where})",
        highlight=False,
    )


@review_app.command("status")
def status_cmd(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Show whether the local Argilla server runs, where, and its processes (exit 1 if down).

    Example: curate review status --json
    """
    from curate.review.server import status

    state = status(data_dir)
    if json_out:
        print_json(state)
    elif state["running"]:
        procs = ", ".join(f"{k} {v}" for k, v in state["processes"].items())
        reviewers = ", ".join(state["reviewers"]) or "none"
        console.print(
            f"running at {state['url']} (owner {state['username']}; reviewers: {reviewers}; "
            f"credentials in {state['state_file']}); processes: {procs}; "
            f"data dir: {state['data_dir']}; logs: {state['logs']}",
            highlight=False,
        )
    else:
        console.print(
            f"not running (data dir {state['data_dir']}). Start it with "
            f"`curate review serve{_data_dir_flag(state['data_dir'])}`.",
            highlight=False,
        )
    if not state["running"]:
        raise typer.Exit(1)


users_app = typer.Typer(help="Reviewer accounts on the local Argilla server.", no_args_is_help=True)
review_app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add_cmd(
    names: Annotated[list[str], typer.Argument(help="User names (lower case, digits, - and _).")],
    workspace: Workspace = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Create reviewer (annotator) accounts and add them to the workspace; prints each one's
    password and API key (also kept in DATA_DIR/server.json, mode 600).

    Example: curate review users add ana bo
    """
    from curate.review.server import add_users

    made = add_users(list(names), data_dir, workspace=workspace)
    if json_out:
        print_json(made)
        return
    for name, creds in made.items():
        console.print(
            f"{name}: password {creds['password']}  api key {creds['api_key']}", highlight=False
        )


@review_app.command("rotate-keys")
def rotate_cmd(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """New passwords and API keys for the local server's owner and reviewers (old ones stop
    working at once; restart the server to end signed-in web sessions).

    Example: curate review rotate-keys
    """
    from curate.review.server import rotate_credentials

    done = rotate_credentials(data_dir)
    if json_out:
        print_json(done)
        return
    console.print(
        f"new password and API key for: {', '.join(done['rotated'])}; "
        f"they are in {done['state_file']} (`curate review status --json` shows them)",
        highlight=False,
    )


def _data_dir_flag(data_dir: str) -> str:
    """`` --data-dir X`` for hints, unless X is the default data dir."""
    from curate.review.server import default_data_dir

    if Path(data_dir) == default_data_dir().expanduser().resolve():
        return ""
    return f" --data-dir {data_dir}"


def _reviewer_lines(out: dict[str, object]) -> list[str]:
    """Per-reviewer counts and the agreement figure of a pull, for the terminal."""
    lines = []
    reviewers = out.get("reviewers") or {}
    assert isinstance(reviewers, dict)
    for name, c in reviewers.items():
        labels = ", ".join(f"{k} {v}" for k, v in c.items() if k != "answered")
        lines.append(f"reviewer {name}: {c['answered']} answered ({labels})")
    ag = out.get("agreement") or {}
    assert isinstance(ag, dict)
    if ag.get("records"):
        kappa = ag["fleiss_kappa"]
        pairs = "; ".join(
            f"{pair} {'n/a' if k is None else k}" for pair, k in ag["cohen_kappa"].items()
        )
        lines.append(
            f"agreement on {ag['records']} records with 2+ answers: "
            f"{ag['percent_agreement']}% unanimous, Fleiss' kappa "
            f"{'n/a (one label only)' if kappa is None else kappa}; Cohen's kappa {pairs}"
        )
    return lines


def _count_lines(path: Path) -> int | None:
    """Non-blank lines of a file (the progress bar's total), None if unreadable."""
    from curate.io import iter_raw_lines

    try:
        return sum(1 for _, raw in iter_raw_lines(path) if raw.strip())
    except Exception:
        return None  # push reports the real problem


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")

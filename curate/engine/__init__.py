"""Where a stage's batch work runs: ``local`` (this machine's process pool, the default)
or ``ray`` (a Ray cluster through Ray Data, ``pip install 'curate[ray]'``).

The stages' per-example work is the same pure batch functions on both engines
(:func:`curate.validate.check_batch`, :func:`curate.dedup.core.featurize`,
:func:`curate.split.scan_batch`, :func:`curate.split.export_batch`); the Ray engine runs
them in ``map_batches`` and does the cross-example work (exact keys, LSH bands, connected
components, split groups) with Ray Data's groupings, so the driver never holds every
signature or id. Results are the same record for record (see ``docs/scale.md``).

The library functions here are what the CLI calls:

- :func:`validate` -> :func:`curate.validate.validate_path` on either engine,
- :func:`dedup` -> :func:`curate.dedup.run.dedup_paths` on either engine,
- :func:`split` -> :func:`curate.split.split_path` on either engine.

``ray_address`` joins an existing cluster (``"auto"``, ``"ray://host:10001"`` or
``"host:6379"``; default: the ``RAY_ADDRESS`` environment variable, else a local Ray
instance started for the run and stopped after it).

Example:
    >>> resolve_engine(None, {})
    'local'
    >>> resolve_engine(None, {"engine": "ray"})
    'ray'
    >>> resolve_engine("spark", {})
    Traceback (most recent call last):
    ...
    curate.records.CurateError: --engine 'spark' is not one of: local, ray
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from curate.records import CurateError

ENGINES = ("local", "ray")
#: what a missing Ray install says
INSTALL_HINT = "pip install 'curate[ray]'"


def resolve_engine(engine: str | None, config: Mapping[str, Any] | None = None) -> str:
    """The engine in effect: ``engine`` (a flag), else ``config["engine"]``
    (``[tool.curate]`` or a run config), else ``local``. Raises :class:`CurateError`
    for an unknown name."""
    name = engine if engine is not None else (config or {}).get("engine", "local")
    if name not in ENGINES:
        raise CurateError(f"--engine {name!r} is not one of: {', '.join(ENGINES)}")
    return str(name)


def resolve_address(address: str | None) -> str | None:
    """``address`` (``--ray-address``), else ``RAY_ADDRESS``, else ``None`` (a local
    Ray instance is started for the run)."""
    if address:
        return address
    return os.environ.get("RAY_ADDRESS") or None


def require_ray() -> None:
    """Raise :class:`CurateError` (exit 2) naming the extra when Ray Data is missing."""
    try:
        import ray.data  # noqa: F401
    except ImportError as e:
        raise CurateError(
            f"--engine ray needs Ray (Ray Data), not installed here: {INSTALL_HINT}"
        ) from e


def check_engine(engine: str | None, config: Mapping[str, Any] | None = None) -> str:
    """:func:`resolve_engine`, and for ``ray`` check it is installed (exit 2 if not)."""
    name = resolve_engine(engine, config)
    if name == "ray":
        require_ray()
    return name


@contextlib.contextmanager
def batch_mapper(engine: str | None, ray_address: str | None = None) -> Iterator[Any]:
    """For ``map_batches=`` of :func:`curate.validate.validate_path` (and
    :func:`curate.api.validate`): ``None`` on the local engine; on ``ray``, Ray's ordered
    map inside a Ray session for the ``with`` block (Ray checked installed first).

    Example:
        >>> with batch_mapper("local") as mb:
        ...     print(mb)
        None
    """
    if check_engine(engine) == "local":
        yield None
        return
    from curate.engine.ray import ordered_map, session

    with session(resolve_address(ray_address)):
        yield ordered_map


def validate(
    paths: Sequence[str | os.PathLike[str]],
    *,
    engine: str = "local",
    ray_address: str | None = None,
    **kwargs: Any,
) -> Any:
    """:func:`curate.validate.validate_path` on ``engine`` (same arguments, same
    report): on ``ray`` each batch of lines is checked by
    :func:`curate.validate.check_batch` in a Ray Data ``map_batches`` task."""
    from curate.validate import validate_path

    if check_engine(engine) == "local":
        return validate_path(paths, **kwargs)
    from curate.engine.ray import session, validate_ray

    with session(resolve_address(ray_address)):
        return validate_ray(paths, **kwargs)


def dedup(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    *,
    engine: str = "local",
    ray_address: str | None = None,
    **kwargs: Any,
) -> Any:
    """:func:`curate.dedup.run.dedup_paths` on ``engine`` (same arguments, same
    outputs and summary)."""
    from curate.dedup.run import dedup_paths

    if check_engine(engine) == "local":
        return dedup_paths(inputs, output, **kwargs)
    from curate.engine.ray import session
    from curate.engine.ray_dedup import dedup_ray

    with session(resolve_address(ray_address)):
        return dedup_ray(inputs, output, **kwargs)


def split(
    path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    options: Any,
    *,
    engine: str = "local",
    ray_address: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`curate.split.split_path` on ``engine`` (same outputs and manifest)."""
    from curate.split import split_path

    if check_engine(engine) == "local":
        return split_path(path, outdir, options, **kwargs)
    from curate.engine.ray import session, split_ray

    with session(resolve_address(ray_address)):
        return split_ray(path, Path(outdir), options, **kwargs)


__all__ = [
    "ENGINES",
    "INSTALL_HINT",
    "batch_mapper",
    "check_engine",
    "dedup",
    "require_ray",
    "resolve_address",
    "resolve_engine",
    "split",
    "validate",
]

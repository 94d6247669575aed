"""The ``--engine`` and ``--ray-address`` options of ``curate validate``, ``dedup``,
``split`` and ``run``, declared once, and how a command settles them.

Example:
    >>> settle(None, None, {"engine": "local"})
    ('local', None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

#: ``--engine``: where the batch work runs (``None``: ``[tool.curate]``'s, else local)
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="local (this machine's cores) or ray (a Ray cluster; pip install 'curate[ray]') "
        "[default: local, or engine in [tool.curate]].",
        show_default=False,
    ),
]
#: ``--ray-address``: the cluster to join (``None``: ``RAY_ADDRESS``, else a local Ray)
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="With --engine ray: the cluster to join (auto, HOST:6379 or ray://HOST:10001) "
        "[default: $RAY_ADDRESS, else a local Ray instance for the run].",
        show_default=False,
    ),
]


def settle(
    engine: str | None, ray_address: str | None, config: Mapping[str, Any] | None = None
) -> tuple[str, str | None]:
    """``(engine, ray_address)`` in effect: the flags, else ``config``'s ``engine`` and
    ``ray_address`` (a ``[tool.curate]`` section, then its top level), else local and
    ``RAY_ADDRESS``. Exits 2 (:class:`curate.records.CurateError`) for an unknown engine
    or ``ray`` without Ray installed, naming ``pip install 'curate[ray]'``."""
    from curate.engine import check_engine, resolve_address

    cfg = config or {}
    name = check_engine(engine, cfg)
    address = ray_address if ray_address is not None else cfg.get("ray_address")
    return name, resolve_address(address) if name == "ray" else None


def config_for(section: str) -> dict[str, Any]:
    """``engine`` and ``ray_address`` from ``[tool.curate.<section>]``, else from
    ``[tool.curate]`` itself."""
    from curate.config import load_config

    cfg = load_config()
    sec = cfg.get(section, {}) if isinstance(cfg.get(section), dict) else {}
    out = {k: cfg[k] for k in ("engine", "ray_address") if k in cfg}
    out.update({k: sec[k] for k in ("engine", "ray_address") if k in sec})
    return out

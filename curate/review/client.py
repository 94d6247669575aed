"""Connecting to an Argilla server: explicit URL/key, the environment, or the local server.

Resolution order: ``--api-url``/``--api-key``, then ``ARGILLA_API_URL``/``ARGILLA_API_KEY``,
then the state file of a local server started by ``curate review serve``.

Example:
    >>> resolve_credentials("http://h:6900", "k", data_dir=None)
    ('http://h:6900', 'k')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curate.records import CurateError


def resolve_credentials(
    api_url: str | None, api_key: str | None, *, data_dir: Path | None = None
) -> tuple[str, str]:
    """The (url, api key) to use; raises :class:`CurateError` naming the ways to give them."""
    url = api_url or os.environ.get("ARGILLA_API_URL")
    key = api_key or os.environ.get("ARGILLA_API_KEY")
    if not (url and key):
        from curate.review.server import read_state

        state = read_state(data_dir) or {}
        if not url and state.get("url"):
            url = state["url"]
            key = key or state.get("api_key")
        elif url and not key and url.rstrip("/") == str(state.get("url", "")).rstrip("/"):
            key = state.get("api_key")
    if not url:
        raise CurateError(
            "no Argilla server given. Pass --api-url and --api-key, set ARGILLA_API_URL and "
            "ARGILLA_API_KEY, or start a local one with `curate review serve`."
        )
    if not key:
        raise CurateError(
            f"no API key for the Argilla server at {url}. Pass --api-key or set ARGILLA_API_KEY "
            "(find it in Argilla under My settings)."
        )
    return url.rstrip("/"), key


def connect(
    api_url: str | None = None,
    api_key: str | None = None,
    *,
    data_dir: Path | None = None,
    timeout: int = 120,
) -> Any:
    """An :class:`argilla.Argilla` client, checked by asking who we are."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # the SDK's own bars; curate draws its own
    try:
        import argilla as rg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise CurateError("the Argilla SDK is not installed: pip install 'curate[review]'") from exc
    import logging
    import warnings

    url, key = resolve_credentials(api_url, api_key, data_dir=data_dir)
    _probe(url)
    logging.getLogger("argilla").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = rg.Argilla(api_url=url, api_key=key, timeout=timeout)
            _ = client.me.username
    except Exception as exc:  # the SDK raises many types for one cause
        raise CurateError(
            f"cannot reach Argilla at {url}: {type(exc).__name__}: {exc}. Check the URL and API "
            "key (or run `curate review status` for the local server)."
        ) from exc
    return client


def _probe(url: str, timeout: float = 10.0) -> None:
    """Fail fast (the SDK retries for many seconds) when nothing answers at ``url``."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/v1/version", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # something answers; the SDK will say what is wrong
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CurateError(
            f"cannot reach Argilla at {url}: {reason}. Check the URL (or run "
            "`curate review status` / `curate review serve` for the local server)."
        ) from exc

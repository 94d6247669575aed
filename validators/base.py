"""What a validator is.

Two kinds:

- :class:`Validator`: per example, pure. ``check(ex)`` yields findings. Runs in worker
  processes, so instances must be picklable (plain dataclasses are). An optional
  ``prepare()`` method loads what the checks load on first use (a model, a compiled
  database): ``validate_path`` calls it before forking its workers, so they share it.
  An optional ``check_many(examples)`` returns each example's ``check`` findings as a
  list (same findings, same order); ``validate_path`` calls it once per batch when it
  exists, so a validator can run a costly step for the whole batch in a row.
- :class:`CorpusValidator`: needs to see many examples (duplicates, leakage). It is
  split so the heavy part stays parallel: ``features(ex)`` is pure and runs in the
  workers (a hash, a MinHash signature); ``add(ref, feature)`` and ``finish()`` run in
  the main process and hold the cross-example state.

Validators never print, log, drop or mutate: the pipeline decides what happens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from curate.records import Example, Finding, Location


@runtime_checkable
class Validator(Protocol):
    name: str

    def check(self, ex: Example) -> Iterable[Finding]: ...


@dataclass(frozen=True, slots=True)
class ExampleRef:
    """What the main process keeps of an example for corpus checks."""

    id: str
    source: Location
    index: int  # 0-based position in the whole run (across files)


@runtime_checkable
class CorpusValidator(Protocol):
    name: str

    def features(self, ex: Example) -> Any: ...

    def add(self, ref: ExampleRef, feature: Any) -> Iterable[Finding]: ...

    def finish(self) -> Iterable[Finding]: ...

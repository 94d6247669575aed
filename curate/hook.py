"""The pre-commit hook: ``curate-hook FILE...`` is ``curate validate --style compact``.

pre-commit passes the staged ``.jsonl`` files; every finding prints as
``file:line: severity code (message N): what is wrong Fix: how``, and the commit is
blocked (exit 1) when a finding reaches ``--fail-on`` (default: error). Options and
``[tool.curate]`` in the repository's pyproject.toml work as for ``curate validate``.

Example ``.pre-commit-config.yaml``::

    repos:
      - repo: https://github.com/<org>/curate
        rev: v0.1.0
        hooks:
          - id: curate-validate
            args: [--model, gpt-4o-mini]
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from curate.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    cli_main(["validate", "--style", "compact", *args])


if __name__ == "__main__":  # pragma: no cover
    main()

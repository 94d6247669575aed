"""The Argilla dataset curate reviews in: fields, questions, metadata and guidelines.

One record per example (record id = :attr:`curate.records.Example.id`):

- fields: ``conversation`` (a chat field with the messages) and ``findings`` (what the
  validators found, one line each, with the fix);
- questions: ``decision`` (``accept`` / ``reject`` / ``needs_fix``), ``quality`` (1-5),
  ``corrected_reply`` (a corrected final assistant reply) and ``note`` (free text);
- metadata: ``source_format``, ``file``, ``tokens``, ``turns``, ``finding_codes``, ``severity``;
- suggestions: the validators' verdict on ``decision`` (a duplicate suggests ``reject``,
  other errors and warnings ``needs_fix``, a clean example ``accept``), so reviewers can
  filter and sort by them.

The names are constants so push and pull (and anyone querying Argilla) agree on them.

Example:
    >>> suggest_decision(["exact_duplicate"], "warning")
    ('reject', 0.9)
    >>> suggest_decision([], None)
    ('accept', 0.6)
"""

from __future__ import annotations

from typing import Any

CONVERSATION = "conversation"
FINDINGS = "findings"
DECISION = "decision"
QUALITY = "quality"
CORRECTION = "corrected_reply"
NOTE = "note"
LABELS = ("accept", "reject", "needs_fix")
AGENT = "curate-validate"
METADATA = ("source_format", "file", "tokens", "turns", "finding_codes", "severity")
#: Argilla's chat field limits (server side: ARGILLA_MAX_MESSAGE_LENGTH / _ROLE_LENGTH).
MAX_MESSAGE_CHARS = 20_000
MAX_ROLE_CHARS = 20

GUIDELINES = """\
# Reviewing fine-tuning examples

Each record is one training conversation. The **findings** field lists what curate's validators
found (format errors, length, duplicates, PII...), each with the file and line it came from and a
suggested fix. The `decision` question comes pre-filled with the validators' suggestion; the
`finding_codes`, `severity`, `tokens` and `turns` metadata let you filter and sort.

## Questions

- **decision** (required):
  - `accept`: the example is correct and useful as it is; it stays in the training set.
  - `reject`: the example must not be trained on (wrong, harmful, a duplicate, off-task). It
    goes to the rejects file with your note as the reason.
  - `needs_fix`: the final assistant reply is wrong but fixable: write the corrected reply
    below. Without a corrected reply the example is rejected.
- **quality** (optional): 1 = unusable ... 5 = exemplary, judged on the assistant's replies.
- **corrected_reply** (optional): the full corrected text of the *last* assistant message. It
  replaces that message when decisions are pulled; leave empty to keep the reply unchanged.
- **note** (optional): why you decided so. Kept in the audit trail and, for a reject, as its reason.

When a record needs several reviewers (the dataset's task distribution), each of them answers it
on their own, without seeing the others' answers. `curate review pull` applies the majority
decision (or, with `--conflicts strict`, only unanimous ones) and reports how often reviewers
agreed.
"""


def suggest_decision(codes: list[str], worst: str | None) -> tuple[str, float]:
    """The validators' suggested decision and its confidence for an example.

    A duplicate (any ``*duplicate*`` code) suggests ``reject``; any other error or warning
    suggests ``needs_fix``; info-only or clean examples suggest ``accept``.
    """
    if any("duplicate" in c for c in codes):
        return "reject", 0.9
    if worst == "error":
        return "needs_fix", 0.8
    if worst == "warning":
        return "needs_fix", 0.5
    return "accept", 0.6


def build_settings(reviewers_per_record: int = 1) -> Any:
    """The :class:`argilla.Settings` of a curate review dataset; ``reviewers_per_record`` is the
    task distribution's ``min_submitted`` (answers needed before a record is complete)."""
    import argilla as rg

    return rg.Settings(
        guidelines=GUIDELINES,
        distribution=rg.TaskDistribution(min_submitted=reviewers_per_record),
        fields=[
            rg.ChatField(name=CONVERSATION, title="Conversation", use_markdown=False),
            rg.TextField(
                name=FINDINGS, title="Validator findings", use_markdown=True, required=False
            ),
        ],
        questions=[
            rg.LabelQuestion(
                name=DECISION,
                title="Decision",
                description="accept: keep; reject: drop; needs_fix: write the corrected reply",
                labels=list(LABELS),
                required=True,
            ),
            rg.RatingQuestion(
                name=QUALITY,
                title="Quality of the assistant's replies (1 = unusable, 5 = exemplary)",
                values=[1, 2, 3, 4, 5],
                required=False,
            ),
            rg.TextQuestion(
                name=CORRECTION,
                title="Corrected final assistant reply (replaces the last assistant message)",
                required=False,
                use_markdown=False,
            ),
            rg.TextQuestion(name=NOTE, title="Note (reason for the decision)", required=False),
        ],
        metadata=[
            rg.TermsMetadataProperty(name="source_format", title="Source format"),
            rg.TermsMetadataProperty(name="file", title="Source file"),
            rg.IntegerMetadataProperty(name="tokens", title="Tokens"),
            rg.IntegerMetadataProperty(name="turns", title="Messages"),
            rg.TermsMetadataProperty(name="finding_codes", title="Finding codes"),
            rg.TermsMetadataProperty(
                name="severity",
                title="Worst finding severity",
                options=["error", "warning", "info", "none"],
            ),
        ],
        allow_extra_metadata=False,
    )


def missing_parts(dataset_settings: Any) -> list[str]:
    """Names of fields/questions/metadata a dataset lacks to be a curate review dataset."""
    have = {f.name for f in dataset_settings.fields}
    have |= {q.name for q in dataset_settings.questions}
    have |= {m.name for m in dataset_settings.metadata}
    need = [CONVERSATION, FINDINGS, DECISION, QUALITY, CORRECTION, NOTE, *METADATA]
    return [n for n in need if n not in have]

"""The Argilla dataset curate reviews in: fields, questions, metadata and guidelines.

One record per example (record id = :attr:`curate.records.Example.id`):

- fields: ``conversation`` (a chat field with the messages: final answers, tool calls by
  name with their arguments pretty-printed, tool results labelled with the call they
  answer) and ``findings`` (what the validators found, one line each, with the fix); and,
  only when the pushed file has them (:class:`Layout`): ``image_1`` ... ``image_N`` (image
  fields, one per image of a record, at most :data:`MAX_IMAGE_FIELDS`), ``reasoning`` (each
  assistant turn's thinking trace, apart from its answer) and ``tools`` (the declared
  tools);
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

from dataclasses import dataclass
from typing import Any

CONVERSATION = "conversation"
FINDINGS = "findings"
REASONING = "reasoning"
TOOLS = "tools"
#: image fields are ``image_1``, ``image_2``...: one per image of a record, in order
IMAGE_PREFIX = "image_"
#: at most this many image fields; later images of a record are named in the conversation
MAX_IMAGE_FIELDS = 4
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


@dataclass(frozen=True)
class Layout:
    """The optional fields of a review dataset: made only when the pushed data needs them.

    Args:
        reasoning: a ``reasoning`` text field (assistant thinking traces).
        tools: a ``tools`` text field (the declared tools of a record).
        images: how many image fields (``image_1`` ...), 0 to :data:`MAX_IMAGE_FIELDS`.

    Example:
        >>> Layout(reasoning=True, images=2).field_names()
        ['image_1', 'image_2', 'reasoning']
        >>> Layout(images=9).images
        4
    """

    reasoning: bool = False
    tools: bool = False
    images: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", max(0, min(int(self.images), MAX_IMAGE_FIELDS)))

    def field_names(self) -> list[str]:
        """The optional field names, in the order the UI shows them."""
        names = [image_field(i) for i in range(1, self.images + 1)]
        return names + [n for n, on in ((REASONING, self.reasoning), (TOOLS, self.tools)) if on]

    def __and__(self, other: Layout) -> Layout:
        return Layout(
            self.reasoning and other.reasoning,
            self.tools and other.tools,
            min(self.images, other.images),
        )


def image_field(n: int) -> str:
    """The name of the ``n``-th (1-based) image field."""
    return f"{IMAGE_PREFIX}{n}"


def layout_of(dataset_settings: Any) -> Layout:
    """The optional fields an existing dataset has (fields cannot be added to a dataset once
    it is published, so push shows what it cannot put in a field as text)."""
    have = {f.name for f in dataset_settings.fields}
    images = 0
    while image_field(images + 1) in have and images < MAX_IMAGE_FIELDS:
        images += 1
    return Layout(REASONING in have, TOOLS in have, images)


GUIDELINES = """\
# Reviewing fine-tuning examples

Each record is one training conversation. Assistant replies show the final answer; when the data
has thinking traces, the **reasoning** field shows each assistant turn's trace apart from its
answer (the conversation says which turns have one). Tool calls show the tool's name and its
arguments, tool results the call they answer; the **tools** field lists the tools the example
declares. Images are shown in the **image** fields, numbered as in the conversation
(`[image 1: ...]`); an image that cannot be shown (too large, missing, not an image) is named
there with the reason. The **findings** field lists what curate's validators
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


def build_settings(reviewers_per_record: int = 1, layout: Layout | None = None) -> Any:
    """The :class:`argilla.Settings` of a curate review dataset; ``reviewers_per_record`` is the
    task distribution's ``min_submitted`` (answers needed before a record is complete);
    ``layout`` adds the optional fields the data needs (none by default)."""
    import argilla as rg

    layout = layout or Layout()
    fields: list[Any] = [rg.ChatField(name=CONVERSATION, title="Conversation", use_markdown=False)]
    for i in range(1, layout.images + 1):
        fields.append(rg.ImageField(name=image_field(i), title=f"Image {i}", required=False))
    if layout.reasoning:
        fields.append(
            rg.TextField(
                name=REASONING,
                title="Reasoning (each assistant turn's thinking trace, apart from its answer)",
                use_markdown=False,
                required=False,
            )
        )
    if layout.tools:
        fields.append(
            rg.TextField(name=TOOLS, title="Declared tools", use_markdown=False, required=False)
        )
    fields.append(
        rg.TextField(name=FINDINGS, title="Validator findings", use_markdown=True, required=False)
    )
    return rg.Settings(
        guidelines=GUIDELINES,
        distribution=rg.TaskDistribution(min_submitted=reviewers_per_record),
        fields=fields,
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

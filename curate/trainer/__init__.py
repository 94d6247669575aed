"""curate.trainer: data as the trainer sees it (chat templates, true token counts,
truncation, trainable tokens) for open models.

Heavy libraries (transformers, mistral-common) are imported only when a tokenizer is
loaded; a missing one raises :class:`~curate.records.CurateError` naming the extra.
"""

from curate.trainer.backends import (
    ChatTokenizer,
    Rendered,
    TemplateFailure,
    load_tokenizer,
)
from curate.trainer.lengths import LengthStats, packing_efficiency, suggest_max_length
from curate.trainer.view import analyse, scan, trainer_view

__all__ = [
    "ChatTokenizer",
    "LengthStats",
    "Rendered",
    "TemplateFailure",
    "analyse",
    "load_tokenizer",
    "packing_efficiency",
    "scan",
    "suggest_max_length",
    "trainer_view",
]

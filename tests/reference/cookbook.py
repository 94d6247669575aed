"""A faithful transcription of the OpenAI cookbook's data-prep notebook
(examples/Chat_finetuning_data_prep.ipynb), used as the independent reference that
curate's counts must equal. Kept deliberately close to the notebook's code: do not
"improve" it. It uses tiktoken directly (curate only supplies the offline rank files).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np
import tiktoken


def load(path: str) -> list[Any]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def format_errors(dataset: list[Any]) -> dict[str, int]:
    errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                errors["message_missing_key"] += 1
            if any(
                k not in ("role", "content", "name", "function_call", "weight") for k in message
            ):
                errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            errors["example_missing_assistant_message"] += 1
    return dict(errors)


def stats(dataset: list[Any], encoding_name: str, max_tokens: int) -> dict[str, Any]:
    encoding = tiktoken.get_encoding(encoding_name)

    def num_tokens_from_messages(
        messages: list[Any], tokens_per_message: int = 3, tokens_per_name: int = 1
    ) -> int:
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    def num_assistant_tokens_from_messages(messages: list[Any]) -> int:
        num_tokens = 0
        for message in messages:
            if message["role"] == "assistant":
                num_tokens += len(encoding.encode(message["content"]))
        return num_tokens

    def dist(values: list[int]) -> dict[str, float]:
        return {
            "min": min(values),
            "max": max(values),
            "mean": float(np.mean(values)),
            "median": float(np.median(values)),
            "p5": float(np.quantile(values, 0.1)),
            "p95": float(np.quantile(values, 0.9)),
        }

    n_missing_system = 0
    n_missing_user = 0
    n_messages = []
    convo_lens = []
    assistant_message_lens = []
    for ex in dataset:
        messages = ex["messages"]
        if not any(message["role"] == "system" for message in messages):
            n_missing_system += 1
        if not any(message["role"] == "user" for message in messages):
            n_missing_user += 1
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_message_lens.append(num_assistant_tokens_from_messages(messages))
    n_too_long = sum(length > max_tokens for length in convo_lens)

    TARGET_EPOCHS = 3
    MIN_TARGET_EXAMPLES = 100
    MAX_TARGET_EXAMPLES = 25000
    MIN_DEFAULT_EPOCHS = 1
    MAX_DEFAULT_EPOCHS = 25
    n_epochs = TARGET_EPOCHS
    n_train_examples = len(dataset)
    if n_train_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train_examples)
    elif n_train_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train_examples)
    n_billing_tokens_in_dataset = sum(min(max_tokens, length) for length in convo_lens)
    return {
        "n_missing_system": n_missing_system,
        "n_missing_user": n_missing_user,
        "messages_per_example": dist(n_messages),
        "per_example": dist(convo_lens),
        "assistant_per_example": dist(assistant_message_lens),
        "n_too_long": n_too_long,
        "n_billing_tokens": n_billing_tokens_in_dataset,
        "epochs": n_epochs,
        "estimated_training_tokens": n_epochs * n_billing_tokens_in_dataset,
        "convo_lens": convo_lens,
        "assistant_lens": assistant_message_lens,
    }

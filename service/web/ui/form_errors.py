"""One readable sentence from marshmallow's nested validation messages, for a form's error banner."""
from __future__ import annotations


def first_problem(messages) -> str:
    """'field: message' for the first problem found ({'logistic_names': {0: ['…']}} → 'logistic_names: …')."""
    path = []
    while isinstance(messages, dict) and messages:
        key, messages = next(iter(messages.items()))
        path.append(str(key))
    text = messages[0] if isinstance(messages, list) and messages else str(messages)
    field = next((p for p in path if not p.isdigit() and p != "_schema"), None)
    return f"{field}: {text}" if field else str(text)

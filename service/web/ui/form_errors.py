"""Readable sentences from marshmallow's nested validation messages: one for a banner, or one per form field."""
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


def problems_by_field(messages) -> dict[str, str]:
    """The first problem of each top-level field, to show next to it ({'logistic_names': {1: ['…']}} →
    {'logistic_names': 'entry 2: …'}); problems of no one field under '_schema'."""
    if not isinstance(messages, dict):
        return {"_schema": first_problem(messages)}
    found = {}
    for field, inner in messages.items():
        if isinstance(inner, dict) and inner and all(isinstance(k, int) for k in inner):
            index = min(inner)  # a list field's item: say which one (blank lines typed are not counted)
            found[str(field)] = f"entry {index + 1}: {first_problem(inner[index])}"
        else:
            found[str(field)] = first_problem(inner)
    return found

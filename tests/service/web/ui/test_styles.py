"""The stylesheet's keyboard focus ring: at least 3:1 (WCAG 1.4.11) on white, the page background and the header."""
from __future__ import annotations

import pathlib
import re

CSS = (pathlib.Path(__file__).parents[4] / "service/web/ui/static/ui.css").read_text()


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _variable(name: str) -> str:
    return re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})", CSS).group(1)


def test_the_focus_ring_shows_on_light_and_on_dark_areas():
    rule = re.search(r"^:focus-visible \{([^}]*)\}", CSS, re.M).group(1)
    assert "outline: 3px solid var(--focus)" in rule and "box-shadow: 0 0 0 2px var(--focus-inner)" in rule
    outer, inner = _variable("focus"), _variable("focus-inner")
    header = re.search(r"\.top \{[^}]*background: (#[0-9a-fA-F]{6})", CSS).group(1)
    for light in ("#ffffff", _variable("bg")):
        assert _contrast(outer, light) < 3  # why the inner ring is there
        assert _contrast(inner, light) >= 3, light
    assert _contrast(outer, header) >= 3  # the header's links keep their yellow ring

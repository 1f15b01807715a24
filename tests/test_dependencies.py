"""Dependencies: every pin of requirements*.txt is in its hashed lock file, at the same version (issue 22, 9)."""
from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)")


def _pins(path: pathlib.Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(3)
    return pins


@pytest.mark.parametrize("source,lock", [("requirements.txt", "requirements.lock"),
                                         ("requirements-dev.txt", "requirements-dev.lock")])
def test_lock_files_pin_what_the_requirements_name(source, lock):
    wanted, locked = _pins(ROOT / source), _pins(ROOT / lock)
    assert wanted, source
    drift = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not drift, f"{lock} is out of date (run ./run lock): {drift}"
    # Every locked package carries at least one hash, so pip's --require-hashes accepts nothing else.
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
    unhashed = [b.split()[0] for b in blocks if _PIN.match(b) and "--hash=sha256:" not in b]
    assert len(blocks) > len(locked) and not unhashed, unhashed


def test_marshmallow_is_past_its_2025_advisory():
    major, minor, patch = (int(x) for x in _pins(ROOT / "requirements.txt")["marshmallow"].split("."))
    assert (major, minor, patch) >= (4, 1, 2)

"""The code layout's rules: imports point down, Flask stays at the edges, the README's code map matches the tree."""
from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("service", "adapters", "webhooks")

# Lower layers never import higher ones. A module's layer is that of the longest prefix listed here.
LAYERS = {
    "service.timeutil": 0, "service.money": 0, "service.config": 0, "service.canonical": 0, "service.outbound_http": 0,
    "service.observability": 0, "service.storage": 0, "service.jobs.outcomes": 0, "service.gunicorn_conf": 0,
    "service.jobs.queue": 1, "service.jobs.wakeup": 1, "service.jobs.order_lock": 1,
    "service.jobs.sqlite_worker_lock": 1, "service.intake": 1,
    "service.cj": 1, "adapters": 1,
    "service.runtime": 2,
    "service.pipeline": 3,
    "service.jobs.worker": 4, "service.web": 4, "webhooks": 4,
    "service.app": 5, "service.cli": 5, "service.wsgi": 5, "service": 5,
}
# Flask is the web edge's business only.
FLASK_ALLOWED = ("service.web", "webhooks", "service.app", "service.cli", "service.wsgi")


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic scripts are loaded by Alembic, not imported
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _layer(module: str) -> int:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def _imports(path: pathlib.Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_and_flask_stays_at_the_edge(module):
    own_layer = _layer(module)
    for imported in _imports(MODULES[module], module):
        top = imported.split(".")[0]
        if top == "flask":
            assert module.startswith(FLASK_ALLOWED), f"{module} imports Flask"
        if imported not in MODULES:
            continue
        if imported == module.rsplit(".", 1)[0] or imported.startswith(module + "."):
            continue  # a package and its own modules (Flask blueprints register their routes this way)
        assert _layer(imported) <= own_layer, f"{module} (layer {own_layer}) imports {imported} " \
                                              f"(layer {_layer(imported)})"


def test_the_worker_and_the_adapters_load_without_flask():
    code = ("import sys, service.jobs.worker, adapters; "
            "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_service_top_level_stays_small():
    modules = sorted(p.name for p in (ROOT / "service").glob("*.py"))
    assert len(modules) <= 12, modules
    for package in (p for p in (ROOT / "service").iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = package / "__init__.py"
        assert init.exists(), f"{package} is not a package"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} says nothing of what the group is for"


def test_web_modules_stay_short():
    for path in (ROOT / "service" / "web").rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 300, path


def _code_map() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Code map\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, "the README has no '## Code map' section"
    return match.group(1)


def test_the_readme_code_map_names_every_folder_and_only_real_paths():
    code_map = _code_map()
    folders = {str(p.relative_to(ROOT)) + "/" for package in PACKAGES + ("tests", "bench")
               for p in [ROOT / package, *(ROOT / package).rglob("*")]
               if p.is_dir() and "__pycache__" not in p.parts and not p.name.startswith(".")}
    missing = sorted(f for f in folders if f"`{f}`" not in code_map)
    assert not missing, f"folders the code map does not name: {missing}"
    named = set(re.findall(r"`((?:service|adapters|webhooks|tests|bench)/[\w./]*)`", code_map))
    absent = sorted(p for p in named if not (ROOT / p).exists())
    assert not absent, f"the code map names paths that do not exist: {absent}"

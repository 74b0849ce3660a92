"""The shape of the code is a test: no import loops, the direction of calls (import-linter's
contracts in pyproject.toml), the domain grouped in rooms, and nothing too long to read."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import import_graph
from .import_graph import ROOT, cycles, graph, imports_of, module_name

ROOMS = {"contacts", "campaigns", "messages", "qualification", "handoff", "sending", "engagement"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_there_is_no_import_loop_in_app_or_workers():
    loops = cycles(graph())
    assert loops == [], "import loops (function-level imports count too):\n" + "\n".join(
        " ↔ ".join(loop) for loop in loops)


def test_the_loop_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """A loop closed by an import inside a function body is still a loop."""
    package = tmp_path / "app" / "domain"
    package.mkdir(parents=True)
    (package / "first.py").write_text("from app.domain.second import b\n")
    (package / "second.py").write_text("def b():\n    from app.domain import first\n    return first\n")
    monkeypatch.setattr(import_graph, "ROOT", tmp_path)
    known = {"app.domain.first": package / "first.py", "app.domain.second": package / "second.py"}
    edges = {name: imports_of(name, path, known) for name, path in known.items()}
    assert cycles(edges) == [["app.domain.first", "app.domain.second"]]


def test_import_linter_contracts_hold():
    """Entry points → domain → infrastructure → models; rooms call only rooms below them; the domain
    knows nothing of Flask, click, RQ or the entry points."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the test extras (pip install -e '.[dev]')"
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_domain_holds_only_its_rooms():
    domain = ROOT / "app" / "domain"
    loose = sorted(p.name for p in domain.glob("*.py") if p.name not in ("__init__.py", "errors.py", "settings.py"))
    assert loose == [], f"modules outside a room: {loose}"
    rooms = {p.name for p in domain.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == ROOMS


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_each_room_says_what_it_owns_and_what_it_may_call(room):
    doc = ast.get_docstring(ast.parse((ROOT / "app" / "domain" / room / "__init__.py").read_text())) or ""
    assert len(doc.split()) >= 30, f"app/domain/{room}/__init__.py needs a paragraph: what it owns, what it may call"
    assert "call" in doc.lower()


def _sources():
    for package in ("app", "workers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_no_module_is_too_long_to_read():
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path in _sources()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES]
    assert long == []


def test_no_function_is_too_long_to_read():
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{module_name(path)}.{node.name}: {length} lines")
    assert long == []

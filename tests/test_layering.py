"""The layers, checked by walking every module's imports: the library (paydag/, its cli/ package, the
one composition root, aside) imports no Prefect, no Dask runner, no tasks, flows or sandbox; tasks never
import flows; the sandbox is not imported by tasks or flows either (they take credentials from Secret
blocks or the environment)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

RULES = {
    # layer: (the modules it is made of, what it must not import)
    "library": (
        lambda path: path.parts[0] == "paydag" and path.parts[:2] != ("paydag", "cli"),
        ("prefect", "prefect_dask", "tasks", "flows", "sandbox"),
    ),
    "tasks": (lambda path: path.parts[0] == "tasks", ("flows", "sandbox")),
    "flows": (lambda path: path.parts[0] == "flows", ("sandbox",)),
}


def imported(source: str) -> set[str]:
    """Every module a source imports, at the top or inside functions (lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(root: Path) -> list[str]:
    found = []
    for file in sorted(root.rglob("*.py")):
        path = file.relative_to(root)
        if path.parts[0] not in ("paydag", "tasks", "flows"):
            continue
        for layer, (member, forbidden) in RULES.items():
            if member(path):
                for name in sorted(imported(file.read_text())):
                    if name.split(".")[0] in forbidden:
                        found.append(f"{path} ({layer}) imports {name}")
    return found


def test_no_layer_imports_what_it_must_not() -> None:
    assert violations(REPO) == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("paydag/money.py", "from prefect import flow"),
        ("paydag/register/claims.py", "import sandbox.app"),
        ("tasks/poll.py", "from flows.poll_returns import poll_return_files"),
    ],
)
def test_a_forbidden_import_is_found(tmp_path: Path, module: str, line: str) -> None:
    """The check itself: a tree with one forbidden import added fails it, naming the module."""
    for package in ("paydag", "tasks", "flows"):
        for file in (REPO / package).rglob("*.py"):
            target = tmp_path / file.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.read_text())
    changed = tmp_path / module
    changed.write_text(changed.read_text() + f"\n\ndef _late():\n    {line}\n")
    assert [v for v in violations(tmp_path) if v.startswith(module)] != []

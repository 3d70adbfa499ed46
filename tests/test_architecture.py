"""The layers point one way: ui → services → data; documents ← services."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(*parts: str) -> list[Path]:
    return sorted(APP.joinpath(*parts).rglob("*.py"))


def _offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if name.startswith(forbidden)
    ]


def test_qt_only_in_the_ui():
    outside_ui = [p for p in _modules() if "ui" not in p.relative_to(APP).parts[:1]]
    assert _offenders(outside_ui, ("PySide6", "shiboken6")) == []


@pytest.mark.parametrize("layer,forbidden", [
    ("data", ("app.services", "app.ui", "app.documents")),
    ("services", ("app.ui",)),
    ("documents", ("app.services", "app.ui", "app.data", "sqlalchemy")),
])  # fmt: skip
def test_layers_do_not_import_upwards(layer, forbidden):
    assert _offenders(_modules(layer), forbidden) == []


def test_ui_never_builds_queries():
    assert _offenders(_modules("ui"), ("sqlalchemy",)) == []

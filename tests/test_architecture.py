"""The layers point one way: ui → services → data; documents ← services.

The UI reaches the data layer only through services: the names it needs from there (the
enums a form offers, ``Database`` as a type, ``CareDeskError``, the database key) it takes
from the service module that uses them (``app.services.errors`` and
``app.services.clinic.keys`` re-export theirs by name).  It formats dates, money and phone
numbers through ``app/i18n.py`` only, reads the time through ``app/clock.py`` only, and
never announces changes by hand: ``ops`` announces what each write committed.
"""

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


def test_ui_reaches_the_data_layer_only_through_services():
    assert _offenders(_modules("ui"), ("app.data",)) == []


def test_ui_formats_through_i18n_only():
    assert _offenders(_modules("ui"), ("babel", "phonenumbers")) == []


_CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}


def _clock_reads(path: Path) -> list[str]:
    """Calls of ``datetime.now()``, ``date.today()``, ``time.time()`` … (``datetime.now``
    also as ``datetime.datetime.now``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in _CLOCK_READS:
                found.append(
                    f"{path.relative_to(APP.parent)}:{node.lineno} {name}.{node.func.attr}()"
                )
    return found


def test_one_clock():
    """Every layer reads the time through app/clock.py, so the clinic's day has one rule."""
    reads = [read for path in _modules() if path != APP / "clock.py" for read in _clock_reads(path)]
    assert reads == []


def test_changes_are_announced_by_ops_not_by_hand():
    """A window never publishes Changes itself: the unit of work collects what a write
    committed and ops announces it, so no write can forget to (or claim too much)."""
    publishes = [
        f"{path.relative_to(APP.parent)}:{node.lineno}"
        for path in _modules()
        if path != APP / "ui" / "changes.py"  # the bus passes on what ops announced
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "publish"
    ]
    assert publishes == []


# --- import circles ------------------------------------------------------------------------


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _only_for_type_checkers(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): its body never runs."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_statements(nodes):
    """Every import among ``nodes`` and inside them (functions, methods, branches), except
    in the body of an ``if TYPE_CHECKING:`` block (its ``else:`` does run)."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _only_for_type_checkers(node):
            yield from _import_statements(node.orelse)
        else:
            yield from _import_statements(ast.iter_child_nodes(node))


def _imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The ``known`` modules that module ``name`` (at ``path``) imports; ``from pkg import
    sub`` imports the submodule ``pkg.sub`` when there is one, else ``pkg``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:  # relative: "." is this package, ".." its parent …
            anchor = package.rsplit(".", node.level - 1)[0]
            base = f"{anchor}.{base}" if base else anchor
        found.update(
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
            for alias in node.names
        )
    return (found & known) - {name}


def _import_graph(root: Path) -> dict[str, set[str]]:
    paths = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    return {name: _imported_modules(path, name, set(paths)) for name, path in paths.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for following in graph[todo.pop()] - seen:
            seen.add(following)
            todo.append(following)
    return seen


def _circles(graph: dict[str, set[str]]) -> list[str]:
    """Each tangle of modules that import one another (a strongly connected component),
    named by a shortest circle from its alphabetically first module."""
    reaches = {module: _reachable(graph, module) for module in graph}
    found, tangled = [], set()
    for start in sorted(graph):
        tangle = {m for m in reaches[start] if start in reaches[m]}
        if start in tangled or len(tangle) < 2:
            continue
        tangled |= tangle
        # Breadth first from ``start`` inside the tangle until the walk comes back to it.
        came_from: dict[str, str] = {}
        frontier = [start]
        while start not in came_from:
            reached = []
            for module in frontier:
                for following in sorted((graph[module] & tangle) - came_from.keys()):
                    came_from[following] = module
                    reached.append(following)
            frontier = reached
        circle = [start]
        while circle[-1] != start or len(circle) == 1:
            circle.append(came_from[circle[-1]])
        line = " → ".join(reversed(circle))
        if len(tangle) > len(circle) - 1:
            line += f" (tangled with {', '.join(sorted(tangle - set(circle)))})"
        found.append(line)
    return found


def test_no_import_circles():
    """No module imports, even inside a function, a module that imports it back: a circle
    only works by import-order luck and hides which of the two is the lower one."""
    circles = _circles(_import_graph(APP))
    assert circles == [], "import circles:\n" + "\n".join(circles)


def test_circle_check_counts_function_level_imports_but_not_type_checking(tmp_path):
    package = tmp_path / "app" / "area"
    package.mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from app.area import high\n")
    (package / "high.py").write_text("from app.area.low import f\n")
    (package / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.area import low\n"
    )
    (package / "relative.py").write_text("from . import typed\n")
    graph = _import_graph(tmp_path / "app")
    assert graph["app.area.typed"] == set()
    assert graph["app.area.relative"] == {"app.area.typed"}
    assert _circles(graph) == ["app.area.high → app.area.low → app.area.high"]

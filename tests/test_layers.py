"""The package's layering: a module imports only from its own layer or lower ones.

Walks the syntax tree of every module in fileflow/ (imports at module level and inside
functions alike) and fails when a module reaches up a layer, imports a fileflow module that
does not exist, or is missing from LAYERS. LAYERS is keyed by dotted module names; the
longest key that is a prefix of a module's name gives its layer, so a package is one entry
and a module inside it may be given a layer of its own.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fileflow"

# The layers of docs/architecture.md.
#   0  pure data and text: no fileflow imports beyond layer 0
#   1  the language: Flowfile text -> checked rule model
#   2  the graph and the staleness decision: jobs, files, plans; remote files; the editor's
#      knowledge of a Flowfile
#   3  the outside world: run log, executors, remote staging, the script-side helper
#   4  the run loop and its reporting; the views of graphs and history
#   5  composition and the command line
LAYERS = {
    "fileflow": 0, "fileflow.errors": 0, "fileflow.patterns": 0, "fileflow.state": 0,
    "fileflow.template": 0,
    "fileflow.lang": 1,
    "fileflow.engine": 2, "fileflow.remote.files": 2, "fileflow.editor": 2,
    "fileflow.remote.tokens": 2, "fileflow.remote.staged_copies": 2, "fileflow.remote.failures": 2,
    "fileflow.runlog": 3, "fileflow.executors": 3, "fileflow.remote": 3, "fileflow.script": 3,
    "fileflow.notebook": 3,
    "fileflow.envs": 3,
    "fileflow.run": 4, "fileflow.views": 4, "fileflow.serve": 4,
    "fileflow.cli": 5, "fileflow.__main__": 5, "fileflow.testing": 5,
}


def module_name(path: Path) -> str:
    """The dotted name of a source file: fileflow/run/locks.py -> fileflow.run.locks."""
    parts = ["fileflow", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_exists(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return ((PACKAGE / rel).with_suffix(".py").is_file()
            or (PACKAGE / rel / "__init__.py").is_file())


def layer_of(name: str) -> int | None:
    """The layer of a dotted module name: the longest key of LAYERS that is its prefix."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in LAYERS:
            return LAYERS[key]
    return None


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(path: Path, source: str | None = None) -> list[tuple[str, int]]:
    """(dotted module, line) for every import of a fileflow module in a file, at any depth.
    `from fileflow.x import y` names fileflow.x.y when y is a module, else fileflow.x."""
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names
                      if alias.name.split(".")[0] == "fileflow"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            if parts[0] != "fileflow":
                continue
            base_name = ".".join(parts)
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                found.append((sub if module_exists(sub) else base_name, node.lineno))
    return sorted(set(found), key=lambda f: (f[1], f[0]))


def upward_imports(path: Path, source: str | None = None) -> list[str]:
    """What a file imports from a higher layer, or from a fileflow module that does not exist."""
    own = layer_of(module_name(path))
    problems = []
    for target, line in imported_modules(path, source):
        if not module_exists(target):
            problems.append(f"line {line}: imports {target}, which does not exist")
        elif layer_of(target) is not None and layer_of(target) > own:
            problems.append(f"line {line}: imports {target} (layer {layer_of(target)})")
    return problems


def test_every_module_is_classified():
    missing = sorted(module_name(p) for p in source_files() if layer_of(module_name(p)) is None)
    assert not missing, f"modules missing from LAYERS in tests/test_layers.py: {missing}"


def test_every_entry_names_a_module_that_exists():
    stale = sorted(key for key in LAYERS if not module_exists(key))
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


def test_docstring_layers_agree_with_the_map():
    disagree = []
    for path in source_files():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        m = re.search(r"\blayer (\d)\b", doc, re.IGNORECASE)
        layer = layer_of(module_name(path))
        if m and int(m.group(1)) != layer:
            disagree.append(f"{path.relative_to(PACKAGE)} says layer {m.group(1)}, "
                            f"LAYERS says {layer}")
    assert not disagree, "\n".join(disagree)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_higher_layer(path):
    problems = upward_imports(path)
    assert not problems, (f"{module_name(path)} (layer {layer_of(module_name(path))}):\n"
                          + "\n".join(problems))


def test_a_planted_upward_import_is_caught():
    planted = "def later():\n    from fileflow.run.scheduler import Scheduler\n"
    assert upward_imports(PACKAGE / "engine" / "plan.py", planted) == [
        "line 2: imports fileflow.run.scheduler (layer 4)"]
    gone = "import fileflow.schedule\n"
    assert upward_imports(PACKAGE / "run" / "locks.py", gone) == [
        "line 1: imports fileflow.schedule, which does not exist"]


def test_the_walker_sees_every_form_of_import():
    source = """
import os
from . import syntax as s, nodes
from ..errors import FlowfileError
import fileflow.engine.graph
from fileflow.engine.store import FileStore

def later():
    from fileflow.cli.main import main
    if True:
        from fileflow import __version__
"""
    found = imported_modules(PACKAGE / "lang" / "loader.py", source)
    assert found == [
        ("fileflow.lang.nodes", 3), ("fileflow.lang.syntax", 3), ("fileflow.errors", 4),
        ("fileflow.engine.graph", 5), ("fileflow.engine.store", 6),
        ("fileflow.cli.main", 9), ("fileflow", 11)]


def test_the_longest_prefix_gives_the_layer():
    assert layer_of("fileflow.remote.files") == 2
    assert layer_of("fileflow.remote.staging") == 3
    assert layer_of("fileflow") == 0
    assert layer_of("fileflow.cli.main") == 5


def test_the_staleness_decision_is_pure():
    """staleness.decide takes its collaborators as arguments: no file system, no database."""
    tree = ast.parse((PACKAGE / "engine" / "staleness.py").read_text(encoding="utf-8"))
    banned = {"os", "io", "sqlalchemy", "pathlib", "shutil", "subprocess"}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            used.add(node.module.split(".")[0])
    assert not used & banned, f"staleness.py imports {sorted(used & banned)}"

"""The package's layering: a module imports only from its own layer or lower ones.

Walks the syntax tree of every module in fileflow/ (imports at module level and inside
functions alike) and fails when a module reaches up a layer, or when a module is missing
from LAYERS: a new module must be classified here, deliberately, when it is added.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fileflow"

# The layers of docs/architecture.md. A module names its layer in its docstring ("Layer 2");
# where it does, the test checks that the two agree. The executors package is one unit.
#   0  pure data and text: no fileflow imports beyond layer 0
#   1  the language: Flowfile text -> checked rule model
#   2  the graph and the staleness decision: jobs, files, plans
#   3  the outside world: run log, locks, executors, the script-side helper
#   4  the run loop and its reporting
#   5  composition and the command line
LAYERS = {
    "__init__": 0, "errors": 0, "patterns": 0, "state": 0, "template": 0,
    "syntax": 1, "syntax_errors": 1, "syntax_nodes": 1, "syntax_fast": 1, "syntax_cache": 1, "evaluate": 1, "rules": 1,
    "format": 1,  # fileflow fmt (issue 7)
    "completion": 5,  # shell completion (issue 7)
    "lint": 2,  # fileflow lint (issue 7)
    "lsp_features": 2, "lsp": 5,  # fileflow lsp (issue 7)
    "graph": 2, "resolve": 2, "store": 2, "rebuild": 2, "command": 2, "plan": 2,
    "runlog": 3, "runlog_records": 3, "runlog_sql": 3, "runlog_writes": 3, "runlog_sqlite": 3, "locks": 3, "executors": 3, "script": 3,
    "schedule": 4, "report": 4, "progress": 4, "background_hashing": 3,
    "api": 5, "cli": 5, "__main__": 5, "cluster_setup": 5, "profiles": 5,
    # seeing the workflow (issue 4)
    "graph_view": 2, "runlog_history": 3, "graph_formats": 4, "summary": 4, "history": 4,
    "html_report": 4, "show": 5,
    "remote": 2,  # remote files through fsspec (issue 8)
    "staging": 3,  # remote files in a build: observing URLs, staging a run (issue 8)
    "remote_job": 3,  # a cluster job's own staging, on its node (--remote-staging job)
    "noop_cache": 3,  # the no-op shortcut (issue 3)
}


def unit_of(path: Path) -> str:
    """The LAYERS key of a source file: its module name, or its subpackage's name."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def imported_units(path: Path, source: str | None = None) -> list[tuple[str, int]]:
    """(unit, line) for every import of a fileflow module in a file, at any depth."""
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    rel = path.relative_to(PACKAGE)
    package = ["fileflow", *rel.parts[:-1]]  # the package the file is in
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "fileflow":
                    found.append((parts[1:], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            if parts[0] != "fileflow":
                continue
            inner = parts[1:]
            if not inner:  # `from . import x`: x is a submodule, or a name of __init__
                for alias in node.names:
                    is_module = ((PACKAGE / f"{alias.name}.py").exists()
                                 or (PACKAGE / alias.name / "__init__.py").exists())
                    found.append(([alias.name] if is_module else [], node.lineno))
            else:
                found.append((inner, node.lineno))
    return [(parts[0] if parts else "__init__", line) for parts, line in found]


def test_every_module_is_classified():
    units = {unit_of(p) for p in source_files()}
    missing = sorted(units - set(LAYERS))
    assert not missing, f"modules missing from LAYERS in tests/test_layers.py: {missing}"


def test_docstring_layers_agree_with_the_map():
    import re

    disagree = []
    for path in source_files():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        m = re.search(r"\blayer (\d)\b", doc, re.IGNORECASE)
        unit = unit_of(path)
        if m and unit in LAYERS and int(m.group(1)) != LAYERS[unit]:
            disagree.append(f"{path.relative_to(PACKAGE)} says layer {m.group(1)}, "
                            f"LAYERS says {LAYERS[unit]}")
    assert not disagree, "\n".join(disagree)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_higher_layer(path):
    unit = unit_of(path)
    if unit not in LAYERS:
        pytest.skip("unclassified (see test_every_module_is_classified)")
    upward = [f"line {line}: imports {target} (layer {LAYERS[target]})"
              for target, line in imported_units(path)
              if target in LAYERS and LAYERS[target] > LAYERS[unit]]
    unknown = [f"line {line}: imports fileflow.{target}, which does not exist"
               for target, line in imported_units(path) if target not in LAYERS]
    assert not upward + unknown, f"{unit} (layer {LAYERS[unit]}):\n" + "\n".join(upward + unknown)


def test_the_walker_sees_every_form_of_import():
    source = """
import os
from . import syntax as s, __version__
from .errors import FlowfileError
import fileflow.graph
from fileflow.store import FileStore

def later():
    from .cli import main
    if True:
        from . import api
"""
    found = imported_units(PACKAGE / "template.py", source)
    assert sorted(found, key=lambda f: (f[1], f[0])) == [
        ("__init__", 3), ("syntax", 3), ("errors", 4), ("graph", 5), ("store", 6),
        ("cli", 9), ("api", 11)]
    # inside a subpackage, '.' is the subpackage and '..' the package
    inside = imported_units(PACKAGE / "executors" / "local.py",
                            "from .base import JobSpec\nfrom ..errors import JobFailed\n")
    assert inside == [("executors", 1), ("errors", 2)]


def test_rebuild_is_pure():
    """rebuild.decide takes its collaborators as arguments: no file system, no database."""
    tree = ast.parse((PACKAGE / "rebuild.py").read_text(encoding="utf-8"))
    banned = {"os", "io", "sqlalchemy", "pathlib", "shutil", "subprocess"}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            used.add(node.module.split(".")[0])
    assert not used & banned, f"rebuild.py imports {sorted(used & banned)}"

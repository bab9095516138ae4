"""The parse cache (parse_cache.py): hits give the same tree, misses and broken caches parse."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fileflow.errors import FlowfileError
from fileflow.lang import fast_parser as syntax_fast
from fileflow.lang import parse_cache as syntax_cache
from fileflow.lang import syntax as s
from fileflow.lang.loader import load_workflow

ROOT = Path(__file__).resolve().parent.parent

# One statement of every node kind, then a comment that makes the text worth caching.
EVERY_NODE = '''\
A = f(1, k="v") if not (x.y[0] < 2 <= z) else -a + b * c // (d - e)
B = [true, none, 2.5, {"k": [1, 2]}, g()] if a and b or c else d not in e
rule r:
    input: "a.txt", ref = REF
    output:
        "x.txt",
        log = "l.txt"
    shell: """
        cat {input} > {output}
        """
localrules: r
'''
PADDING = "# " + "padding " * (syntax_cache.MIN_SIZE // 8) + "\n"
BIG = EVERY_NODE + PADDING


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("FILEFLOW_CACHE_DIR", str(folder))
    return folder


def entries(folder: Path) -> list[Path]:
    return sorted((folder / "parse").glob("*.marshal")) if (folder / "parse").is_dir() else []


def no_parsing(monkeypatch):
    """Make any real parse fail the test: what follows must come from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("parsed although the cache holds the text")
    monkeypatch.setattr(syntax_fast, "parse_fast", refuse)
    monkeypatch.setattr(s, "parse_with_lark", refuse)


def test_a_second_parse_comes_from_the_cache_and_is_the_same_tree(cache, monkeypatch):
    first = s.parse_flowfile(BIG, "Flowfile")
    assert len(entries(cache)) == 1
    assert first == s.parse_with_lark(BIG, "Flowfile")
    no_parsing(monkeypatch)
    assert s.parse_flowfile(BIG, "Flowfile") == first
    # the path is not part of the entry: positions name the path asked for
    elsewhere = s.parse_flowfile(BIG, "other/Flowfile")
    assert elsewhere.path == "other/Flowfile"
    assert elsewhere.statements[0].pos.path == "other/Flowfile"
    assert elsewhere.statements[2].directives[0].args[1].value.pos.path == "other/Flowfile"


def test_the_benchmark_flowfile_round_trips(cache, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_parse", ROOT / "benchmarks" / "bench_parse.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (tmp_path / "b").mkdir()
    path = bench.generate(str(tmp_path / "b"), 150)
    text = Path(path).read_text(encoding="utf-8")
    assert len(text) >= syntax_cache.MIN_SIZE
    parsed = s.parse_flowfile(text, path)
    no_parsing(monkeypatch)
    assert s.parse_flowfile(text, path) == parsed


def test_an_edit_is_a_miss(cache):
    s.parse_flowfile(BIG, "Flowfile")
    edited = s.parse_flowfile(BIG.replace('"a.txt"', '"b.txt"'), "Flowfile")
    assert edited.statements[2].directives[0].args[0].value == "b.txt"
    assert len(entries(cache)) == 2


def test_small_texts_and_errors_are_not_cached(cache):
    s.parse_flowfile(EVERY_NODE, "Flowfile")
    with pytest.raises(FlowfileError) as info:
        s.parse_flowfile("rule a\n" + BIG, "Flowfile")
    assert info.value.pos.line == 1
    assert entries(cache) == []


def test_a_corrupt_entry_is_ignored_and_replaced(cache):
    tree = s.parse_flowfile(BIG, "Flowfile")
    (entry,) = entries(cache)
    for garbage in (b"", b"not marshal", b"\xe9" * 100, entry.read_bytes()[:1000]):
        entry.write_bytes(garbage)
        assert s.parse_flowfile(BIG, "Flowfile") == tree
    assert entries(cache) == [entry] and entry.stat().st_size > 1000


def test_an_unusable_cache_directory_is_ignored(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FILEFLOW_CACHE_DIR", str(blocker / "cache"))
    assert s.parse_flowfile(BIG, "Flowfile") == s.parse_with_lark(BIG, "Flowfile")


def test_where_the_cache_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("FILEFLOW_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert syntax_cache.cache_dir() == tmp_path / "xdg" / "fileflow"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert syntax_cache.cache_dir() == tmp_path / "home" / ".cache" / "fileflow"
    monkeypatch.setenv("FILEFLOW_CACHE_DIR", str(tmp_path / "mine"))
    assert syntax_cache.cache_dir() == tmp_path / "mine"


def test_included_files_are_cached_one_by_one(cache, tmp_path):
    project = tmp_path / "project"
    (project / "rules").mkdir(parents=True)
    rule = 'rule {0}:\n    output: "{0}.txt"\n    shell: "touch {{output}}"\n'
    (project / "Flowfile").write_text('include: "rules/more.flow"\n' + rule.format("main") + PADDING)
    (project / "rules" / "more.flow").write_text(rule.format("other") + PADDING)
    first = load_workflow(str(project / "Flowfile"))
    assert len(entries(cache)) == 2
    again = load_workflow(str(project / "Flowfile"))
    assert [r.name for r in first.rules] == [r.name for r in again.rules] == ["other", "main"]
    assert len(entries(cache)) == 2


def test_every_module_that_shapes_the_tokens_is_part_of_the_cache_key():
    """A cached entry is tokens that the fast parser turns into a tree: any fileflow.lang
    module the parser imports, directly or through another, can change what an entry means,
    so an edit to it must be a miss."""
    import ast

    here = Path(syntax_cache.__file__).parent
    seen, todo = set(), ["fast_parser.py", "tokenizer.py", "syntax.py"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((here / name).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("fileflow.lang."):
                    todo.append(node.module.rsplit(".", 1)[1] + ".py")
                elif node.module == "fileflow.lang":
                    todo.extend(alias.name + ".py" for alias in node.names)
    assert seen - set(syntax_cache.TREE_MODULES) == set()

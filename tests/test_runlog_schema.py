"""The run log's schema: declared once, by the SQLAlchemy tables of fileflow.runlog.sql, and
its versions and migrations, on SQLite and (with FILEFLOW_TEST_PG_URL) PostgreSQL.

Every other spelling of the schema is held to those tables here: the plain SQL of a build's
writes (runlog.writes), of the sqlite3 reads (runlog.log) and of the history queries
(runlog.history) may name only tables and columns they declare, with values of the
columns' types, and a log brought up to date by the plain DDL of the migrations has the
layout of a new one.
"""
from __future__ import annotations

import re
import socket
import sqlite3
from collections import namedtuple
from typing import Any

import pytest
from runlogkit import done, fstate, start
from sqlalchemy import MetaData, inspect, text

from fileflow.errors import FileflowError
from fileflow.runlog import history
from fileflow.runlog.log import SCHEMA_VERSION, TARGETS_QUERY, VERSION_QUERY, RunLogError, open_runlog
from fileflow.runlog.records import TARGET_COLUMN_NAMES
from fileflow.runlog.sql import metadata
from fileflow.runlog.writes import STATEMENTS
from fileflow.state import RecordedTarget

# --------------------------------------------------------------------------- fixtures
# --------------------------------------------------------------------------- schema versions
# A v1 log as fileflow 1 created it (SQLAlchemy makes primary key columns NOT NULL).
V1_DDL = [
    "CREATE TABLE meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)",
    'CREATE TABLE runs (id {id}, started_at FLOAT NOT NULL, ended_at FLOAT, argv TEXT NOT NULL, '
    'workdir TEXT NOT NULL, "user" TEXT, host TEXT, pid INTEGER, fileflow_version TEXT, '
    'status TEXT NOT NULL, jobs_done INTEGER NOT NULL, jobs_failed INTEGER NOT NULL)',
    "CREATE TABLE jobs (id {id}, run_id BIGINT NOT NULL REFERENCES runs (id), rule TEXT NOT NULL, "
    "wildcards TEXT NOT NULL, name TEXT NOT NULL, command TEXT, reasons TEXT NOT NULL, "
    "state TEXT NOT NULL, attempt INTEGER NOT NULL, exit_code INTEGER, started_at FLOAT, "
    "ended_at FLOAT, executor TEXT, external_id TEXT, host TEXT, peak_rss_bytes BIGINT, "
    "cpu_seconds FLOAT, signature TEXT, log_path TEXT)",
    "CREATE INDEX ix_jobs_run_id ON jobs (run_id)",
    "CREATE INDEX ix_jobs_external_id ON jobs (external_id)",
    "CREATE TABLE files (path TEXT NOT NULL PRIMARY KEY, complete BOOLEAN NOT NULL, size BIGINT, "
    "mtime_ns BIGINT, digest TEXT, algorithm TEXT, signature TEXT, input_digests TEXT, "
    "job_id BIGINT, built_at FLOAT, changed_at FLOAT)",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
    "INSERT INTO runs (started_at, argv, workdir, status, jobs_done, jobs_failed) "
    "VALUES (100.0, '[\"fileflow\"]', '/w', 'success', 1, 0)",
    "INSERT INTO jobs (run_id, rule, wildcards, name, reasons, state, attempt) "
    "VALUES (1, 'r', '{{}}', 'r:1', '[]', 'done', 1)",
    "INSERT INTO files (path, complete, size, mtime_ns, digest, algorithm, signature, "
    "input_digests, job_id, built_at, changed_at) "
    "VALUES ('old.txt', TRUE, 5, 50, 'd-old', 'sha256', 'S', '{{\"i\":\"x\"}}', 1, 100.0, 90.0)",
]


def test_v1_log_is_migrated_in_place(db):
    raw = db.raw()
    id_type = "INTEGER NOT NULL PRIMARY KEY" if db.kind == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with raw.begin() as conn:
        for stmt in V1_DDL:
            conn.execute(text(stmt.format(id=id_type)))
    with db.open() as log:
        assert log.schema_version() == SCHEMA_VERSION == 4
        old = log.load_targets()["old.txt"]               # nothing wiped
        assert old.complete and old.digest == "d-old" and old.changed_at == 90.0
        assert dict(old.input_digests) == {"i": "x"} and old.ctime_ns == -1
        assert old.seen_ns == -1 and old.link == ""       # observed at an unknown time
        assert old.code_digest == old.params_digest == ""  # which part changed: not known
        assert [r["argv"] for r in log.runs()] == [["fileflow"]]
        assert log.job(1)["message"] is None and log.job(1)["outputs"] == []
        run_id = log.start_run([], "/", "0")              # v2 features work on the old log
        (job_id,) = log.jobs_started(run_id, [start("r:2", ["old.txt"])])
        log.jobs_finished([done(job_id, [fstate("old.txt", "d-old")], message="again")])
        assert log.job(job_id)["message"] == "again"
        assert [j["id"] for j in log.jobs_for_path("old.txt")] == [job_id]
        assert log.load_targets()["old.txt"].changed_at == 90.0
    # the migrated schema is the schema a new log gets
    insp = inspect(raw)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in insp.get_columns(table.name)} == set(table.c.keys()), table.name
        assert ({i["name"] for i in insp.get_indexes(table.name)}
                == {i.name for i in table.indexes}), table.name
    raw.dispose()


def test_newer_schema_is_refused_and_left_alone(db):
    with db.open():
        pass
    raw = db.raw()
    newer = str(SCHEMA_VERSION + 1)
    with raw.begin() as conn:
        conn.execute(text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": newer})
    with pytest.raises(RunLogError) as info:
        db.open()
    message = str(info.value)
    assert "upgrade fileflow" in message and f"version {newer}" in message
    if db.kind == "sqlite":
        assert db.sqlite_path in message
    assert isinstance(info.value, FileflowError)
    with raw.begin() as conn:
        assert conn.execute(text("SELECT value FROM meta")).scalar() == newer
    raw.dispose()


def test_tables_without_a_version_are_refused(db):
    raw = db.raw()
    with raw.begin() as conn:
        conn.execute(text("CREATE TABLE files (path TEXT PRIMARY KEY)"))
    with pytest.raises(RunLogError, match="no schema version"):
        db.open()
    raw.dispose()


# ------------------------------------------------------------------- the schema, declared once
# A small reader of the SQL fileflow writes: enough to find every table and column a
# statement names, and what is put into or compared with each column. A word it does not
# know is taken for a column, so a keyword new to the run log's SQL must be added here.
KEYWORDS = frozenset("""SELECT FROM WHERE AND OR NOT NULL IS IN AS INSERT INTO VALUES UPDATE SET
    DELETE ON CONFLICT DO CASE WHEN THEN ELSE END JOIN ORDER BY DESC ASC LIMIT UNION ALL GROUP
    LIKE ESCAPE CROSS""".split())
FUNCTIONS = frozenset({"COALESCE", "CAST", "MAX", "NEXTVAL", "PG_GET_SERIAL_SEQUENCE",
                       "GENERATE_SERIES", "COUNT", "SUM"})
SQL_TYPES = {"DOUBLE PRECISION": float, "FLOAT": float, "TEXT": str, "BIGINT": int,
             "INTEGER": int, "BOOLEAN": bool}
_TOKEN = re.compile(r"""(?P<string>'(?:[^']|'')*') | (?P<quoted>"[^"]+") | (?P<param>:\w+)
    | (?P<number>\d+(?:\.\d+)?) | (?P<word>[A-Za-z_]\w*) | (?P<space>\s+) | (?P<punct>.)""",
                    re.X)
# kind: keyword, name (a column), table, function, type, alias, param, string, number, punct
Token = namedtuple("Token", "kind text")
NO_TOKEN = Token("", "")

# table -> column -> (its Python type, nullable)
Schema = dict[str, dict[str, tuple[type, bool]]]


def schema_of(md: MetaData) -> Schema:
    return {t.name: {c.name: (c.type.python_type, bool(c.nullable)) for c in t.columns}
            for t in md.sorted_tables}


def tokens(sql: str) -> list[Token]:
    """The statement's tokens, each word classified by where it stands."""
    out: list[Token] = []
    for m in _TOKEN.finditer(sql):
        kind, word = m.lastgroup, m.group()
        if kind == "space":
            continue
        if kind == "quoted":
            kind, word = "name", word[1:-1]
        elif kind == "param":
            word = word[1:]
        elif kind == "word":
            kind, word = ("keyword", word.upper()) if word.upper() in KEYWORDS else ("name", word)
        out.append(Token(kind, word))
    return _classify(out)


def _classify(toks: list[Token]) -> list[Token]:
    """Names that are tables, functions, types or aliases, by the token before or after."""
    out: list[Token] = []
    for i, tok in enumerate(toks):
        before = out[-1] if out else NO_TOKEN
        upper = tok.text.upper()
        if tok.kind == "name":
            if upper in FUNCTIONS and i + 1 < len(toks) and toks[i + 1].text == "(":
                tok = Token("function", upper)
            elif before.text in ("FROM", "JOIN", "INTO", "UPDATE"):
                tok = Token("table", tok.text)
            elif before.text == "AS":
                is_type = upper in SQL_TYPES or upper == "DOUBLE"
                tok = Token("type", upper) if is_type else Token("alias", tok.text)
            elif before == Token("type", "DOUBLE") and upper == "PRECISION":
                out[-1] = Token("type", "DOUBLE PRECISION")
                continue
        out.append(tok)
    return out


def _reference(toks: list[Token], i: int) -> tuple[str | None, str, int] | None:
    """The column reference at toks[i] (`column` or `table.column`): (table or None, column,
    the index after it)."""
    if i >= len(toks) or toks[i].kind != "name":
        return None
    if i + 2 < len(toks) and toks[i + 1].text == "." and toks[i + 2].kind == "name":
        return toks[i].text, toks[i + 2].text, i + 3
    return None, toks[i].text, i + 1


def _split(toks: list[Token], stop: str = ")") -> tuple[list[list[Token]], int]:
    """toks split at the commas outside parentheses and CASE ... END, up to `stop` at that
    level (or an unmatched closing parenthesis); the parts and the index of the stop."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for i, tok in enumerate(toks):
        if depth == 0 and tok.text == stop:
            return parts, i
        depth += (tok.text in ("(", "CASE")) - (tok.text in (")", "END"))
        if depth < 0:
            return parts, i
        if depth == 0 and tok.text == ",":
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts, len(toks)


class Statement:
    """One statement read against a schema: `problems` in words, and `bindings`, each
    parameter's (table, column, whether it is the column's whole value)."""

    def __init__(self, sql: str, schema: Schema):
        self.schema, self.toks = schema, tokens(sql)
        self.noted: list[str] = []
        self.bindings: dict[str, tuple[str, str, bool]] = {}
        self.tables = [t.text for t in self.toks if t.kind == "table"]
        for i, tok in enumerate(self.toks):   # pg_get_serial_sequence('table', 'column')
            if tok == Token("function", "PG_GET_SERIAL_SEQUENCE"):
                self.tables.append(self.toks[i + 2].text.strip("'"))
        self.noted += [f"no table {t}" for t in self.tables if t not in schema]
        self.aliases = {t.text for t in self.toks if t.kind == "alias"}
        for i, tok in enumerate(self.toks):
            if tok.kind == "name" and not (i and self.toks[i - 1].text == "."):
                self.resolve(*_reference(self.toks, i)[:2])
            elif tok == Token("function", "PG_GET_SERIAL_SEQUENCE"):
                self.resolve(*(t.text.strip("'") for t in self.toks[i + 2:i + 5:2]))
            elif tok.text == "INTO" and self.toks[i + 2].text == "(":
                self._check_insert(i + 1)
            elif tok.text == "SET":
                self._check_set(i + 1)
            elif tok.text == "=":
                self._check_comparison(i)

    @property
    def problems(self) -> list[str]:
        return list(dict.fromkeys(self.noted))   # a name is seen by more than one check

    def resolve(self, table: str | None, column: str) -> tuple[str, str] | None:
        """(table, column) of a reference, or None after noting what is wrong with it.
        `excluded` is the table of the INSERT, the first of the statement."""
        tables = self.tables
        if table is None and column in self.aliases:
            return None
        if table is None:
            owners = [t for t in tables if column in self.schema.get(t, ())]
            if not owners:
                self.noted.append(f"no column {column} in {', '.join(tables)}")
            return (owners[0], column) if owners else None
        named = tables[0] if table == "excluded" else table
        if named not in tables or named not in self.schema:
            self.noted.append(f"{table}.{column}: no table {table} in the statement")
        elif column not in self.schema[named]:
            self.noted.append(f"no column {named}.{column}")
        else:
            return named, column
        return None

    def _check_insert(self, at: int) -> None:
        """INSERT INTO table (columns) VALUES (values) at toks[at]: a value for each column."""
        columns, end = _split(self.toks[at + 2:])
        after = at + 2 + end + 1
        values = (_split(self.toks[after + 2:])[0] if self.toks[after:after + 1]
                  and self.toks[after].text == "VALUES" else [])
        if len(columns) != len(values):
            self.noted.append(f"{len(columns)} columns for {len(values)} values")
        for column, value in zip(columns, values):
            self._assigned(self.toks[at].text, column[0].text, value)

    def _check_set(self, at: int) -> None:
        """SET column = value, ... up to WHERE."""
        for item in _split(self.toks[at:], stop="WHERE")[0]:
            ref = _reference(item, 0)
            if ref and item[ref[2]:ref[2] + 1] == [Token("punct", "=")]:
                found = self.resolve(ref[0], ref[1])
                if found:
                    self._assigned(*found, item[ref[2] + 1:])

    def _check_comparison(self, at: int) -> None:
        """column = value, where the value is one parameter, literal or column."""
        dotted = at >= 3 and self.toks[at - 2].text == "."
        left = _reference(self.toks, at - 3 if dotted else at - 1)
        if left and left[2] == at and (found := self.resolve(left[0], left[1])):
            right = _reference(self.toks, at + 1)
            self._assigned(*found, self.toks[at + 1:right[2] if right else at + 2])

    def _assigned(self, table: str, column: str, value: list[Token]) -> None:
        """`value` is put into (or compared with) table.column: does it fit?"""
        if column not in self.schema.get(table, {}):
            return
        wanted, nullable = self.schema[table][column]
        where = f"{table}.{column} ({wanted.__name__})"
        first = value[0] if value else NO_TOKEN
        ref = _reference(value, 0)
        if ref and ref[2] == len(value):
            other = self.resolve(ref[0], ref[1])
            if other and self.schema[other[0]][other[1]][0] is not wanted:
                self.noted.append(f"{where} = {'.'.join(other)}, another type")
        elif len(value) == 1 and first.kind == "param":
            self.bindings[first.text] = (table, column, True)
        elif len(value) == 1 and first.kind in ("string", "number"):
            got = str if first.kind == "string" else float if "." in first.text else int
            if not (got is wanted or (got is int and wanted is float)):
                self.noted.append(f"{where} = {first.text}")
        elif first == Token("keyword", "NULL") and not nullable:
            self.noted.append(f"{where} = NULL, but NOT NULL")
        for j in range(len(value) - 2):   # CAST(:param AS type), alone or in an expression
            param, as_, type_ = value[j:j + 3]
            if param.kind == "param" and as_.text == "AS" and type_.kind == "type":
                if SQL_TYPES[type_.text] is not wanted:
                    self.noted.append(f"{where} = CAST(:{param.text} AS {type_.text})")
                self.bindings[param.text] = (table, column, False)


def value_problems(statement: Statement, row: dict[str, Any]) -> list[str]:
    """Values of a row of parameters that do not fit the columns they are bound to."""
    problems = []
    for param, (table, column, whole) in statement.bindings.items():
        value = row[param]
        wanted, nullable = statement.schema[table][column]
        if value is None:
            fits = nullable or not whole
        elif wanted is bool or isinstance(value, bool):
            fits = wanted is bool and isinstance(value, bool)
        else:
            fits = isinstance(value, (int, float) if wanted is float else wanted)
        if not fits:
            problems.append(f":{param} = {value!r} into {table}.{column} ({wanted.__name__})")
    return problems


def every_statement() -> dict[str, str]:
    """The run log's plain SQL, by where it is: writes.STATEMENTS, log.py's and history's
    queries (a list of values as one parameter)."""
    found = {f"writes.{key}": sql for key, sql in STATEMENTS.items()}
    found["log.VERSION_QUERY"] = VERSION_QUERY
    found["log.TARGETS_QUERY"] = TARGETS_QUERY + " WHERE path IN (:p0)"
    every_filter = " AND ".join(history.RUN_FILTERS.values())
    found.update((f"history.{key}", sql.format(values=":p0", where=every_filter,
                                               state=" AND state = :state"))
                 for key, sql in history.QUERIES.items())
    return found


@pytest.mark.parametrize("name", sorted(every_statement()))
def test_each_statement_names_declared_columns_with_values_of_their_type(name):
    sql = every_statement()[name]
    statement = Statement(sql, schema_of(metadata))
    assert statement.problems == [], sql
    assert statement.tables, sql


def test_the_column_lists_are_the_tables_columns():
    tables = metadata.tables
    assert history.RUN_COLUMNS == tuple(tables["runs"].c.keys())
    assert history.JOB_COLUMNS == tuple(tables["jobs"].c.keys())
    assert TARGET_COLUMN_NAMES == tuple(tables["files"].c.keys())


def test_a_name_changed_in_the_sql_only_is_caught():
    schema = schema_of(metadata)
    assert Statement("UPDATE runs SET stat = :status WHERE id = :id", schema).problems == [
        "no column stat in runs"]
    assert Statement('SELECT "usr" FROM runs', schema).problems == ["no column usr in runs"]
    assert Statement("SELECT path FROM file", schema).problems == [
        "no table file", "no column path in file"]
    assert Statement("SELECT jobs.path FROM files JOIN jobs ON files.job_id = jobs.id",
                     schema).problems == ["no column jobs.path"]


def test_a_column_renamed_in_the_schema_only_is_caught():
    schema = schema_of(metadata)
    schema["files"]["content_digest"] = schema["files"].pop("digest")
    caught = {name for name, sql in every_statement().items()
              if "no column digest in files" in Statement(sql, schema).problems
              or "no column files.digest" in Statement(sql, schema).problems}
    assert caught == {"writes.built", "writes.source", "writes.restat", "log.TARGETS_QUERY",
                      "history.file_records"}


def test_a_value_of_another_type_is_caught():
    schema = schema_of(metadata)
    assert Statement("UPDATE files SET size = 'big', complete = NULL WHERE path = 3",
                     schema).problems == [
        "files.size (int) = 'big'", "files.complete (bool) = NULL, but NOT NULL",
        "files.path (str) = 3"]
    assert Statement("UPDATE jobs SET ended_at = COALESCE(CAST(:e AS TEXT), ended_at)",
                     schema).problems == ["jobs.ended_at (float) = CAST(:e AS TEXT)"]
    insert = Statement("INSERT INTO runs (pid, status) VALUES (:pid, :status)", schema)
    assert value_problems(insert, {"pid": "42", "status": "running"}) == [
        ":pid = '42' into runs.pid (int)"]
    assert value_problems(insert, {"pid": None, "status": None}) == [
        ":status = None into runs.status (str)"]
    assert Statement("INSERT INTO runs (pid, status) VALUES (:pid)", schema).problems == [
        "2 columns for 1 values"]


class RecordingCursor:
    """A driver cursor that keeps each statement with its rows of parameters."""

    def __init__(self, cursor, seen: list[tuple[str, list[dict]]]):
        self._cursor, self._seen = cursor, seen

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def execute(self, sql, *args):
        self._seen.append((sql, [args[0]] if args and args[0] else []))
        return self._cursor.execute(sql, *args)

    def executemany(self, sql, rows):
        self._seen.append((sql, list(rows)))
        return self._cursor.executemany(sql, rows)


def _write_one_of_each(log) -> None:
    run = log.start_run(["fileflow", "build"], "/w", "1.0", planned=3)
    a, b = log.jobs_started(run, [start("r:a", ["a.txt"]), start("r:b", ["b.txt"])])
    log.set_external_ids([(a, "4711")])
    started = log.record_tick(run, [done(a, [fstate("a.txt", "da")], started_at=1.5,
                                         ended_at=2.5, external_id="4711")],
                              [start("r:c", ["c.txt"])], [(b, "4712")])
    log.jobs_finished([done(b, [], state="failed", exit_code=1, output_paths=["b.txt"],
                            message="exit status 1")])
    log.record_files([fstate("src.txt", "ds"), fstate("a.txt", "da", size=11)])
    log.mark_complete([RecordedTarget("t.txt", True, 4, 40, "dt", ctime_ns=41)])
    log.forget(["t.txt"])
    assert log.unfinished_jobs(socket.gethostname())
    log.close_abandoned([run], started)
    log.graph_extended(run, 1, ["split[sample=a]"], 6, planned=9)
    log.finish_run(run, "interrupted", 1, 1)


def test_every_value_a_build_writes_fits_its_column(db, monkeypatch):
    seen: list[tuple[str, list[dict]]] = []
    with db.open() as log:
        writer = log.writer
        real = type(writer)._transaction
        monkeypatch.setattr(type(writer), "_transaction", lambda self, fn, write=True: real(
            self, lambda cursor: fn(RecordingCursor(cursor, seen)), write))
        _write_one_of_each(log)
        keys = {writer._statement(key): key for key in STATEMENTS}
    schema = schema_of(metadata)
    used = set()
    for sql, rows in seen:
        key = keys[sql.removesuffix(" RETURNING id")]
        used.add(key)
        statement = Statement(STATEMENTS[key], schema)
        problems = [p for row in rows for p in value_problems(statement, row)]
        assert problems == [], key
    other_backend = "new_job_ids" if db.kind == "sqlite" else "last_job_id"
    assert used == set(STATEMENTS) - {other_backend}


def sqlite_layout(path: str) -> dict[str, tuple]:
    """Per table: its columns as PRAGMA table_info gives them, its indexes and foreign keys."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: (conn.execute(f"PRAGMA table_info({name})").fetchall(),
                       sorted((i[1], i[2], conn.execute(f"PRAGMA index_info({i[1]})").fetchall())
                              for i in conn.execute(f"PRAGMA index_list({name})")),
                       conn.execute(f"PRAGMA foreign_key_list({name})").fetchall())
                for name in names}
    finally:
        conn.close()


def _migrated_v1_layout(tmp_path, ddl: list[str]) -> dict[str, tuple]:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for stmt in ddl:
            conn.execute(stmt.format(id="INTEGER NOT NULL PRIMARY KEY"))
    finally:
        conn.close()
    with open_runlog(f"sqlite:///{path}", str(tmp_path)) as log:
        assert log.schema_version() == SCHEMA_VERSION
    return sqlite_layout(str(path))


def test_a_migrated_sqlite_log_has_the_layout_of_a_new_one(tmp_path):
    with open_runlog(None, str(tmp_path)):
        pass
    new = sqlite_layout(str(tmp_path / ".fileflow" / "runlog.db"))
    assert set(new) == set(metadata.tables)
    assert _migrated_v1_layout(tmp_path, V1_DDL) == new
    # a column that the plain DDL spells otherwise shows
    renamed = [stmt.replace("jobs_failed", "jobs_lost") for stmt in V1_DDL]
    (tmp_path / "v1.db").unlink()
    assert _migrated_v1_layout(tmp_path, renamed)["runs"] != new["runs"]

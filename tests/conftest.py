"""Shared test fixtures, and which tests are end-to-end.

Unit tests only: `python -m pytest -m "not e2e"`; everything: `python -m pytest`.

A test is end-to-end (marked `e2e`) when it runs whole builds or fileflow's command line in
real processes, starts or uses a real service, or is a long generated (fuzz) run: every test
of the modules in E2E_MODULES, every test that uses a fixture in SERVICE_FIXTURES, and the
tests of other modules marked `@pytest.mark.e2e` one by one.

Tests that need a real service (PostgreSQL, Slurm, Grid Engine) call `need_service(...)`.
On a developer machine without the service they skip; with FILEFLOW_STRICT_SERVICES=1
(set by .ci/run) a missing service is a failure, so CI can never pass by skipping.
"""
from __future__ import annotations

import functools
import gc
import os
import shutil
import subprocess
import tempfile
from fnmatch import fnmatch

import pytest

STRICT = os.environ.get("FILEFLOW_STRICT_SERVICES") == "1"
# A build daemon the developer runs (`fileflow daemon start`) never serves the tests' commands:
# they look for one in a folder of their own (tests/test_daemon.py starts its own).
os.environ["FILEFLOW_DAEMON_DIR"] = tempfile.mkdtemp(prefix="ffd-tests-", dir="/tmp")

# Modules whose every test is end-to-end (file name patterns).
E2E_MODULES = (
    "test_build_*.py",         # whole builds, real job processes, the run log
    "test_cluster_slurm.py",   # a real Slurm
    "test_executor_*.py",      # real job processes; Grid Engine through DRMAA
    "test_remote_cluster.py",  # cluster jobs staging from a loopback S3
    "test_viz_*.py",           # builds, then graph/summary/runs/log/report in real processes
    "test_editor_syntax.py",   # the grammars in node's TextMate tokenizer and in vim
    "test_quickstart.py",      # the README's quickstart, as a user runs it
    "test_example_samplesheet.py",  # examples/samplesheet, as its README runs it
    "test_completion.py",      # the completion scripts in real bash, zsh and fish
    "test_schedule_ahead.py",  # whole builds watching the run log as jobs start
    "test_noop_cache.py",      # whole builds, then the no-op shortcut
    "test_daemon.py",          # a real build daemon, commands handed to it
)

# Fixtures that start a real service (a loopback S3 or HTTP server) or need one (PostgreSQL).
SERVICE_FIXTURES = frozenset({"s3_server", "s3_bucket", "http_server", "postgres_url"})


@pytest.fixture(scope="session", autouse=True)
def _commands_through_a_daemon():
    """With FILEFLOW_TEST_THROUGH_DAEMON=1, every `python -m fileflow` a test runs is handed to
    a build daemon started for the session: the tests then check that a command behaves the
    same through the daemon as in its own process."""
    if os.environ.get("FILEFLOW_TEST_THROUGH_DAEMON") != "1":
        yield
        return
    import sys

    started = subprocess.run([sys.executable, "-m", "fileflow", "daemon", "start"],
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    yield
    subprocess.run([sys.executable, "-m", "fileflow", "daemon", "stop"], capture_output=True, timeout=60)


@pytest.fixture(autouse=True)
def _own_process(request, monkeypatch):
    """A test marked `own_process` kills, signals or inspects the fileflow process it starts
    (its pid, its children, its wait channel): that process must be the build's own."""
    if request.node.get_closest_marker("own_process"):
        monkeypatch.setenv("FILEFLOW_NO_DAEMON", "1")


def pytest_unconfigure(config) -> None:
    shutil.rmtree(os.environ["FILEFLOW_DAEMON_DIR"], ignore_errors=True)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if (any(fnmatch(item.path.name, pattern) for pattern in E2E_MODULES)
                or SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _collector_thawed():
    """A command run in the test process (buildkit's `Project.build`, `main([...])`) leaves
    what it built frozen out of the garbage collector's sight (cli/steps.py: no_gc_pauses),
    as a fileflow process does until it exits. Thawed after each test, so the next one
    starts as a fresh process would: frozen objects piling up over hundreds of in-process
    builds made every later parse slow (gc.get_freeze_count walks them all) and were never
    freed."""
    yield
    gc.unfreeze()


def need_service(available: bool, what: str) -> None:
    if available:
        return
    if STRICT:
        pytest.fail(f"{what} is not available but FILEFLOW_STRICT_SERVICES=1 requires it")
    pytest.skip(f"{what} is not available")


@functools.lru_cache(maxsize=1)
def slurm_up() -> bool:
    """A real Slurm answers here (.ci/slurm-up.sh starts one and sets FILEFLOW_TEST_SLURM=1)."""
    if not os.environ.get("FILEFLOW_TEST_SLURM") or shutil.which("sbatch") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def slurm() -> None:
    """For tests that submit to the real Slurm."""
    need_service(slurm_up(), "Slurm (run .ci/slurm-up.sh; it sets FILEFLOW_TEST_SLURM=1)")


@pytest.fixture
def postgres_url() -> str:
    """URL of a real PostgreSQL database for tests (FILEFLOW_TEST_PG_URL)."""
    url = os.environ.get("FILEFLOW_TEST_PG_URL", "")
    need_service(bool(url), "PostgreSQL (start it with .ci/postgres-up.sh; it sets FILEFLOW_TEST_PG_URL)")
    return url


@pytest.fixture
def pg_url(postgres_url):
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    from runlogkit import fresh_pg_schema

    with fresh_pg_schema(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A run log database of each backend (runlogkit.DB); PostgreSQL takes `pg_url`."""
    from runlogkit import backend_db

    return backend_db(request, tmp_path)

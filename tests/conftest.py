"""Shared test fixtures.

Tests that need a real service (PostgreSQL, Slurm, Grid Engine) call `need_service(...)`.
On a developer machine without the service they skip; with FILEFLOW_STRICT_SERVICES=1
(set by .ci/run) a missing service is a failure, so CI can never pass by skipping.
"""
from __future__ import annotations

import os

import pytest

STRICT = os.environ.get("FILEFLOW_STRICT_SERVICES") == "1"


def need_service(available: bool, what: str) -> None:
    if available:
        return
    if STRICT:
        pytest.fail(f"{what} is not available but FILEFLOW_STRICT_SERVICES=1 requires it")
    pytest.skip(f"{what} is not available")


@pytest.fixture
def postgres_url() -> str:
    """URL of a real PostgreSQL database for tests (FILEFLOW_TEST_PG_URL)."""
    url = os.environ.get("FILEFLOW_TEST_PG_URL", "")
    need_service(bool(url), "PostgreSQL (set FILEFLOW_TEST_PG_URL)")
    return url

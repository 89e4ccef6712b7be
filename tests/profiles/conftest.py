"""Fixtures for the state store's tests: a fresh store file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaserve.adapters.profiles.store import StateStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(db_path)
    yield opened
    opened.close()

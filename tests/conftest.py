"""Shared fixtures: the tiny offline assets and registry, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import build_tiny_assets, write_tiny_registry


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory) -> Path:
    return build_tiny_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def tiny_tasks(tmp_path_factory) -> Path:
    return write_tiny_registry(tmp_path_factory.mktemp("tasks"))

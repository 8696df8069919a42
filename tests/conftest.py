"""Shared fixtures (the tiny offline assets and registry, built once per test session) and the `unit` marker.

Tests that run the suite end to end, launch processes or build real assets are marked `integration` in their
module; every other test is marked `unit` here, so `pytest -m unit` is the fast loop while editing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.fixtures import build_tiny_assets, write_tiny_registry


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory) -> Path:
    return build_tiny_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def tiny_tasks(tmp_path_factory) -> Path:
    return write_tiny_registry(tmp_path_factory.mktemp("tasks"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.unit)

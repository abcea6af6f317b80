"""Shared fixtures: one librdkafka mock cluster (real Kafka protocol over TCP) per session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.kafka.mock_cluster import MockCluster
from ingest.settings import Settings

_names = itertools.count()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with MockCluster(num_brokers=3) as cluster:
        yield cluster.bootstrap_servers


@pytest.fixture(scope="session")
def dbt_target_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dbt target/ for the test session: never the project's, and partial parsing is reused."""
    return tmp_path_factory.mktemp("dbt-target")


@pytest.fixture
def warehouse_settings(tmp_path: Path, dbt_target_path: Path) -> Settings:
    """A new DuckDB warehouse and stage in the test's own directory; dbt shares the session's
    target/ (partial parsing stays warm)."""
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        dbt_target_path=dbt_target_path,
    )


@pytest.fixture
def unique_name() -> str:
    """A topic/group suffix so tests sharing the cluster never see each other's data."""
    return f"t{next(_names)}"

"""One settings object for every extractor and command, read from the environment.

Nothing in `ingest/` reads `os.environ` directly: tests and the Airflow DAGs build a `Settings`
with explicit values, the CLI builds it from the environment once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where the warehouse and stage live and how batches are cut."""

    warehouse_path: Path = Path("warehouse/revops.duckdb")
    stage_dir: Path = Path("warehouse/stage")
    kafka_bootstrap: str | None = None
    consumer_group: str = "revops-ingest"
    # A batch is flushed to the stage when it reaches either bound.
    batch_max_messages: int = 200_000
    batch_max_seconds: float = 5.0
    dbt_project_dir: Path = PROJECT_DIR
    dbt_profiles_dir: Path = PROJECT_DIR / "profiles"
    dbt_target: str | None = None
    # Where dbt writes target/ and logs/ (default: the project's). Runs that may overlap — tests,
    # benchmarks, scheduler tasks — each get their own so artifacts never clobber each other.
    dbt_target_path: Path | None = None
    extra_kafka_config: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()
        return replace(
            base,
            warehouse_path=Path(env.get("REVOPS_WAREHOUSE", str(base.warehouse_path))),
            stage_dir=Path(env.get("REVOPS_STAGE", str(base.stage_dir))),
            kafka_bootstrap=env.get("REVOPS_KAFKA_BOOTSTRAP") or None,
            consumer_group=env.get("REVOPS_CONSUMER_GROUP", base.consumer_group),
            batch_max_messages=int(env.get("REVOPS_BATCH_MAX_MESSAGES", base.batch_max_messages)),
            batch_max_seconds=float(env.get("REVOPS_BATCH_MAX_SECONDS", base.batch_max_seconds)),
            dbt_target=env.get("REVOPS_DBT_TARGET") or None,
            dbt_target_path=Path(env["REVOPS_DBT_TARGET_PATH"])
            if env.get("REVOPS_DBT_TARGET_PATH")
            else None,
        )

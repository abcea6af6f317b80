"""OpenLineage dataset names of the platform, spelled so the ingest's events and dbt's join.

One run of `load_events_microbatch` reads the Kafka topics, writes the stage files and the raw
tables (consume_kafka), then dbt reads raw and writes staging and the marts (the Cosmos tasks).
A lineage backend joins jobs into one graph only where an output's (namespace, name) is spelled
exactly like a later input's, so the names here follow what the OpenLineage dbt integration
(openlineage-integration-common, used by Cosmos) emits for the project's own profile:

| dataset | namespace | name |
| --- | --- | --- |
| Kafka topic | `kafka://<first bootstrap server>` | `<topic>` (OpenLineage naming spec) |
| stage folder | `file` | `<absolute stage dir>/<source>` (Airflow's `file` converter's spelling) |
| warehouse table (DuckDB) | `duckdb://:memory:` | `revops.<schema>.<table>` |
| warehouse table (Snowflake) | `snowflake://<account>` | `<DATABASE>.<schema>.<table>` |

Why `duckdb://:memory:`: the integration names a dbt-duckdb namespace after the profile's
`path`, and profiles/profiles.yml opens `:memory:` and attaches the warehouse file under the
catalog `revops` (names carry that catalog: `revops.raw.admin_membership_events`). Any other
spelling (the file's path, say) would split the graph at raw.

Standard library only at module level: the DAG files import this at parse time, under
Airflow 3 and 2.11 (where no OpenLineage provider is installed). The OpenLineage client (~1 s
to import) is loaded only by `declare()`, inside a running task.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Mirrors ingest.topics (the Airflow venv does not import `ingest`): topic → (dbt source / stage
# folder, raw table). tests/airflow/test_lineage.py fails when they drift.
TOPIC_LANDING: dict[str, tuple[str, str]] = {
    "admin.membership.v1": ("admin_service", "admin_membership_events"),
    "okta.system_log.v1": ("okta", "okta_system_log"),
    "zendesk.ticket_events.v1": ("zendesk", "zendesk_ticket_events"),
}
# Rows a consumer run also writes whatever the topic: malformed messages and the load ledger.
INGEST_TABLES = ("ingest_quarantine", "load_history")
QUARANTINE_STAGE = "quarantine"
DUCKDB_CATALOG = "revops"  # the `alias` of the attached warehouse in profiles/profiles.yml

Name = tuple[str, str]  # (namespace, name)


def kafka_namespace(bootstrap: str | None = None) -> str:
    """`kafka://host:port` of the first bootstrap server (the OpenLineage naming spec's Kafka
    namespace); the consumer's REVOPS_KAFKA_BOOTSTRAP when not given."""
    bootstrap = bootstrap or os.environ.get("REVOPS_KAFKA_BOOTSTRAP") or "localhost:9092"
    first = bootstrap.split(",")[0].strip()
    if "://" in first:  # PLAINTEXT://host:port
        first = first.split("://", 1)[1]
    return f"kafka://{first}"


def topic(name: str, bootstrap: str | None = None) -> Name:
    return kafka_namespace(bootstrap), name


def stage_dir(source: str, stage: str | os.PathLike[str] | None = None) -> Name:
    """A stage folder (`<stage>/<source>/yyyy/mm/dd/*.ndjson.gz`) as one dataset."""
    root = Path(stage or os.environ.get("REVOPS_STAGE") or "warehouse/stage").resolve()
    return "file", str(root / source)


def warehouse_namespace(target: str | None = None) -> str:
    """The namespace the OpenLineage dbt integration gives the profile's target."""
    target = target or os.environ.get("REVOPS_DBT_TARGET", "duckdb")
    if target == "duckdb":
        return "duckdb://:memory:"  # the profile's `path` (the warehouse is attached, see top)
    account = os.environ.get("SNOWFLAKE_ACCOUNT", "fakesnow" if target != "snowflake" else "")
    return f"snowflake://{account.lower()}"


def table(schema: str, name: str, target: str | None = None) -> Name:
    """A warehouse table as the dbt integration names it: `<database>.<schema>.<table>`."""
    target = target or os.environ.get("REVOPS_DBT_TARGET", "duckdb")
    database = DUCKDB_CATALOG
    if target != "duckdb":
        database = os.environ.get("SNOWFLAKE_DATABASE", "REVOPS")
    return warehouse_namespace(target), f"{database}.{schema}.{name}"


def kafka_ingest(topics: Iterable[str]) -> tuple[list[Name], list[Name]]:
    """Inputs and outputs of `revops ingest kafka` over `topics`: the topics in; their stage
    folders, their raw tables, the quarantine (stage and raw) and the load ledger out."""
    inputs: list[Name] = []
    outputs: list[Name] = []
    for name in topics:
        source, raw_table = TOPIC_LANDING[name]
        inputs.append(topic(name))
        outputs += [stage_dir(source), table("raw", raw_table)]
    outputs.append(stage_dir(QUARANTINE_STAGE))
    outputs += [table("raw", t) for t in INGEST_TABLES]
    return inputs, outputs


def declare(task: Any, inputs: Sequence[Name], outputs: Sequence[Name]) -> bool:
    """Add `inputs`/`outputs` as OpenLineage datasets to the running task's inlets/outlets.

    The OpenLineage provider reports a task's inlets/outlets that are OpenLineage datasets as
    they are (Airflow assets only when a provider converts their URI scheme: here `file` alone,
    no `kafka` nor `duckdb`). Called from inside the task, so the names use the worker's own
    environment (bootstrap servers, stage and warehouse paths) and parsing never imports the
    client; the provider reads them for the task's COMPLETE (or FAIL) event. The task's Airflow
    assets are left as they are (Airflow ignores non-asset objects there). Returns False, doing
    nothing, where no OpenLineage client is installed (Airflow 2.11 without the provider)."""
    try:
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return False
    for attr, names in (("inlets", inputs), ("outlets", outputs)):
        declared = getattr(task, attr)
        have = {(d.namespace, d.name) for d in declared if isinstance(d, Dataset)}
        for namespace, name in names:
            if (namespace, name) not in have:  # a retry re-runs this on the same task
                declared.append(Dataset(namespace=namespace, name=name))
                have.add((namespace, name))
    log.info("lineage: %d inputs, %d outputs declared", len(inputs), len(outputs))
    return True

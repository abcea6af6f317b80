"""data_quality_watchdog: hourly source freshness and data-quality checks that alert.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

from _common import DEFAULT_ARGS, START_DATE, WAREHOUSE_POOL, dbt
from _compat import dag, task

DOC = """
### Data-quality watchdog (hourly)

- **source_freshness** — `dbt source freshness` with the SLAs declared on the sources
  (`models/staging/*/_*__sources.yml`); an `error_after` breach fails the task, which alerts.
- **dq_tests** — `dbt test --select marts` (the data tests on the marts, `dq_*` included).

Not yet: per-source SLAs of the issue (membership ≤ 15 min, core revenue ≤ 10 min, activities
≤ 60 min need source yml changes), volume anomalies against 14 days, Salesforce count
reconciliation; see dags/README.md.
"""


@dag(
    dag_id="data_quality_watchdog",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["revops", "data-quality", "dbt"],
    doc_md=DOC,
)
def data_quality_watchdog():
    @task(pool=WAREHOUSE_POOL)
    def source_freshness() -> None:
        dbt("source", "freshness")

    @task(pool=WAREHOUSE_POOL)
    def dq_tests() -> None:
        dbt("test", "--select", "marts")

    source_freshness() >> dq_tests()


data_quality_watchdog()

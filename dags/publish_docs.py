"""publish_docs: daily `dbt docs generate --static`, so auditors find current lineage.

An Airflow DAG (Airflow 3.x and 2.11 via _compat; Airflow's safe-mode parser only opens
files that name both words).
"""

from __future__ import annotations

from _common import DEFAULT_ARGS, START_DATE, WAREHOUSE_POOL, dbt
from _compat import dag, task
from _summary import run_summary_task

DOC = """
### Publish the dbt docs (daily at 05:00 UTC)

`dbt docs generate --static` writes `target/static_index.html`: the whole lineage graph and the
catalog in one file, which auditors open without a server. **run_summary** then records the run
in `ops.run_summaries`.
"""


@dag(
    dag_id="publish_docs",
    schedule="0 5 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["revops", "docs", "lineage"],
    doc_md=DOC,
)
def publish_docs():
    @task(pool=WAREHOUSE_POOL)
    def generate_static_docs() -> str:
        lines = dbt("docs", "generate", "--static")
        return next((line for line in reversed(lines) if line.strip()), "")

    generate_static_docs()
    run_summary_task()


publish_docs()

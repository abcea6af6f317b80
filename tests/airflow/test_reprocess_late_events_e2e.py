"""`dag.test()` of reprocess_late_events on the embedded default: a warehouse built from a few
hand-written events, then a membership event backdated beyond the late-event window; the DAG's
task (`python -m ingest.restatements` in the project's venv) must rebuild and record exactly the
one ticket attribution the event restates, under the DAG run's id. About a minute and a half on
2 cores (one full dbt build to set up, the task's two builds)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

from tests.airflow.conftest import PROJECT_DIR, REVOPS_PYTHON, dag_test


def _event(event_id: str, event_type: str, effective_at: str, **fields: str) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "effective_at": effective_at,
        "emitted_at": effective_at,
        "actor": "admin@example.com",
        **fields,
    }


def _ticket(ticket_event_id: str, created_at: str) -> dict:
    return {
        "id": ticket_event_id,
        "ticket_id": "k",
        "type": "ticket.assignee_changed",
        "created_at": created_at,
        "assignee": {"id": 1, "external_id": "u1", "email": "x@example.com"},
        "status": "open",
        "priority": "normal",
    }


def _project_python(code: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(REVOPS_PYTHON), "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_DIR,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _ingest(env: dict[str, str], path, rows: list[dict], topic: str) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _project_python(
        f"""
        from pathlib import Path
        from ingest.file_source import ingest_files
        from ingest.settings import Settings
        ingest_files([Path({str(path)!r})], {topic!r}, Settings.from_env())
        """,
        env,
    )


def test_the_dag_records_the_attribution_a_backdated_event_restates(tmp_path, manifest):
    env = dict(os.environ)
    env.update(
        REVOPS_AIRFLOW_DEADLINES="0",  # dag.test() cannot run them (_compat.run_deadline)
        REVOPS_WAREHOUSE=str(tmp_path / "wh" / "revops.duckdb"),
        REVOPS_STAGE=str(tmp_path / "wh" / "stage"),
        REVOPS_DBT_TARGET_PATH=str(tmp_path / "dbt-target"),
        AIRFLOW_HOME=str(tmp_path / "airflow"),
    )
    env.pop("REVOPS_DBT_TARGET", None)
    admin = "admin.membership.v1"
    _ingest(
        env,
        tmp_path / "admin.jsonl",
        [
            _event("c1", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id="t1", team_name="One"),
            _event("c2", "TEAM_CREATED", "2026-01-01T00:00:00Z", team_id="t2", team_name="Two"),
            _event(
                "l1",
                "REPL_IDENTITY_LINKED",
                "2026-01-01T00:00:00Z",
                repl_id="r1",
                okta_user_id="u1",
            ),
            _event(
                "a1",
                "MEMBERSHIP_ADDED",
                "2026-01-02T00:00:00Z",
                repl_id="r1",
                team_id="t1",
                role="primary",
            ),
        ],
        admin,
    )
    _ingest(
        env,
        tmp_path / "zendesk.jsonl",
        [_ticket("k1", "2026-01-06T00:00:00Z"), _ticket("k2", "2026-01-10T00:00:00Z")],
        "zendesk.ticket_events.v1",
    )
    build = subprocess.run(
        [str(PROJECT_DIR / ".venv/bin/revops"), "build", "--full-refresh"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    # r1 moved to t2 on 8 January, emitted two months later: k2 (10 January) changes team.
    late = _event(
        "late1",
        "MEMBERSHIP_ADDED",
        "2026-01-08T00:00:00Z",
        repl_id="r1",
        team_id="t2",
        role="primary",
    )
    late["emitted_at"] = "2026-03-10T00:00:00Z"
    _ingest(env, tmp_path / "late.jsonl", [late], admin)

    airflow = PROJECT_DIR / ".venv-airflow" / "bin" / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=env, capture_output=True)
    run = dag_test(
        env,
        "reprocess_late_events",
        body="""
        dag_run = dag.test()
        print("STATE", dag_run.state)
        print("RUN_ID", dag_run.run_id)
        """,
    )
    output = run.stdout + run.stderr
    assert "STATE success" in run.stdout, output[-4000:]
    run_id = run.stdout.split("RUN_ID", 1)[1].strip().splitlines()[0]
    # The task log carries the report's summary line.
    assert "1 ticket attributions restated (1 moved" in output, output[-4000:]
    assert "t1 → t2 ×1" in output

    rows = _project_python(
        """
        import json, os, duckdb
        con = duckdb.connect(os.environ["REVOPS_WAREHOUSE"], read_only=True)
        print(json.dumps(con.execute(
            "select run_id, fact, fact_key, repl_id, old_team_id, new_team_id, change, "
            "cast(attributed_at as varchar) from ops.attribution_restatements"
        ).fetchall()))
        print(json.dumps(con.execute(
            "select run_id, status, ticket_restated from ops.restatement_runs"
        ).fetchall()))
        print(json.dumps(con.execute(
            "select ticket_event_id, team_id from marts.fct_ticket_attribution order by 1"
        ).fetchall()))
        """,
        env,
    ).splitlines()
    restatements, runs, attribution = (json.loads(line) for line in rows[-3:])
    assert restatements == [
        [run_id, "ticket", "k2", "r1", "t1", "t2", "moved", "2026-01-10 00:00:00"]
    ]
    assert runs == [[run_id, "success", 1]]
    assert attribution == [["k1", "t1"], ["k2", "t2"]]

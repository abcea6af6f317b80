"""The Snowflake raw-layer writer against a real fakesnow server (the Snowflake wire protocol and
SQL dialect over DuckDB): the same stage files land the same raw rows as in DuckDB, replays load
nothing, malformed messages and position conflicts are quarantined, and `revops ingest file
--target fakesnow` runs end to end. What fakesnow cannot show is listed in
docs/snowflake_loading.md.

fakesnow's server returns a NULL TIMESTAMP as 1970-01-01 over the wire (the stored value is
NULL: `is null` says so), so timestamps are compared together with their `is null` flag.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

snowflake_connector = pytest.importorskip("snowflake.connector")
pytest.importorskip("fakesnow")

from ingest.cli import main  # noqa: E402
from ingest.dbt_runner import dbt_command, dbt_env  # noqa: E402
from ingest.envelope import SourceMessage  # noqa: E402
from ingest.file_source import ingest_files  # noqa: E402
from ingest.landing import stage_batch  # noqa: E402
from ingest.settings import Settings, SettingsError, SnowflakeSettings  # noqa: E402
from ingest.topics import TOPICS  # noqa: E402
from ingest.warehouse import DuckDBWarehouse, Warehouse, open_warehouse  # noqa: E402
from ingest.warehouse_snowflake import (  # noqa: E402
    LANDING_TABLE,
    SnowflakeWarehouse,
    stage_location,
)

TOPIC = "admin.membership.v1"
TABLE = TOPICS[TOPIC].raw_table
PROJECT = Path(__file__).resolve().parents[2]
# Low bounds everywhere: a statement fakesnow answers with HTTP 500 is otherwise retried by the
# connector for minutes.
TIMEOUT_S = 15
_databases = itertools.count()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connect(port: int, **kwargs: object):
    return snowflake_connector.connect(
        account="fakesnow",
        user="fake",
        password="fake",
        host="localhost",
        port=port,
        protocol="http",
        login_timeout=TIMEOUT_S,
        network_timeout=TIMEOUT_S,
        socket_timeout=TIMEOUT_S,
        **kwargs,
    )


@pytest.fixture(scope="module")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One fakesnow server for the module, on a free port, stopped at teardown."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("fakesnow") / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                con = _connect(port)
                break
            except snowflake_connector.errors.Error:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        con.cursor().execute("create database if not exists REVOPS")
        con.close()
        yield port
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


@pytest.fixture
def sf_settings(tmp_path: Path, fakesnow_port: int) -> Settings:
    """A database of its own on the module's server, and a stage in the test's directory."""
    database = f"REVOPS_T{next(_databases)}"
    con = _connect(fakesnow_port)
    con.cursor().execute(f"create database {database}")
    con.close()
    return Settings(
        warehouse_path=tmp_path / "w.duckdb",
        stage_dir=tmp_path / "stage",
        dbt_target="fakesnow",
        snowflake=SnowflakeSettings(port=fakesnow_port, database=database, timeout_s=TIMEOUT_S),
    )


def kafka_msg(offset: int, value: bytes | None, partition: int = 0) -> SourceMessage:
    return SourceMessage(
        source_position=f"kafka:CLUSTER/{TOPIC}/TOPICID/{partition}/{offset}",
        topic=TOPIC,
        partition=partition,
        offset=offset,
        key=None if offset % 3 == 0 else f"r_{offset}".encode(),
        timestamp_ms=None if offset % 4 == 0 else 1_767_225_600_000 + offset,
        value=value,
    )


def event(i: int, **extra: object) -> bytes:
    body = {"event_id": f"e{i}", "event_type": "MEMBERSHIP_ADDED", "repl_id": f"r_{i:06d}"}
    return json.dumps({**body, **extra}).encode()


def raw_rows(wh: Warehouse, table: str) -> list[tuple]:
    """A raw table's rows, comparable across DuckDB and fakesnow: payload parsed, timestamps
    with their null flag (see the module docstring), stage file and load time left out."""
    body = "reason, raw_text, raw_base64" if table == "ingest_quarantine" else "payload"
    sql = (
        "select _source_position, _topic, _partition, _offset, _key, "
        f"_kafka_timestamp is null, _kafka_timestamp, _batch_id, {body} "
        f"from raw.{table} order by _source_position"
    )
    con = wh.con if isinstance(wh, DuckDBWarehouse) else wh.cur
    rows = con.execute(sql).fetchall()
    out = []
    for position, topic, partition, offset, key, ts_null, ts, batch, *rest in rows:
        if table != "ingest_quarantine":
            rest = [json.loads(rest[0])]
        out.append((position, topic, partition, offset, key, None if ts_null else ts, batch, *rest))
    return out


def test_the_factory_picks_the_writer_from_the_target(sf_settings: Settings) -> None:
    with open_warehouse(sf_settings) as wh:
        assert isinstance(wh, SnowflakeWarehouse)
    with open_warehouse(sf_settings.with_target("duckdb")) as wh:
        assert isinstance(wh, DuckDBWarehouse)


def test_the_same_stage_files_land_the_same_raw_rows_as_duckdb(sf_settings: Settings) -> None:
    messages = [kafka_msg(i, event(i, note="it's")) for i in range(1, 40)]
    messages += [kafka_msg(40, b'{"event_id": "e40"'), kafka_msg(41, b"[1, 2]")]
    messages += [kafka_msg(i, event(i), partition=1) for i in range(5)]
    batch_id, files, quarantined = stage_batch(messages, sf_settings)
    assert quarantined == 2 and {f.source for f in files} == {"admin_service", "quarantine"}

    with DuckDBWarehouse(sf_settings.warehouse_path) as duck:
        duck_result = duck.load_batch(batch_id, files)
        duck_rows = {t: raw_rows(duck, t) for t in (TABLE, "ingest_quarantine")}
        duck_history = duck.load_history()
    with open_warehouse(sf_settings) as snow:
        snow_result = snow.load_batch(batch_id, files)
        snow_rows = {t: raw_rows(snow, t) for t in (TABLE, "ingest_quarantine")}
        snow_history = snow.load_history()
        (landing,) = snow.cur.execute(f"select count(*) from {LANDING_TABLE}").fetchone()

    assert snow_result.inserted == duck_result.inserted == {TABLE: 44, "ingest_quarantine": 2}
    assert snow_rows == duck_rows
    assert len(snow_rows[TABLE]) == 44
    assert snow_rows[TABLE][0][-1]["note"] == "it's"
    assert {r[5] is None for r in snow_rows[TABLE]} == {True, False}  # null and real timestamps
    malformed = next(r for r in snow_rows["ingest_quarantine"] if r[3] == 40)
    assert malformed[-3].startswith("malformed JSON")
    assert base64.b64decode(malformed[-1]) == b'{"event_id": "e40"'
    key = ["file_sha256", "source", "raw_table", "rows_in_file", "rows_inserted", "batch_id"]
    assert [[getattr(h, k) for k in key] for h in snow_history] == [
        [getattr(h, k) for k in key] for h in duck_history
    ]
    assert {h.stage_file for h in snow_history} == {stage_location(f) for f in files}
    assert len({h.loaded_at for h in snow_history}) == 1  # one knowledge time per batch
    assert landing == 0


def test_a_replay_loads_nothing_new(sf_settings: Settings) -> None:
    messages = [kafka_msg(i, event(i)) for i in range(1, 11)]
    batch_id, files, _ = stage_batch(messages, sf_settings)
    with open_warehouse(sf_settings) as wh:
        first = wh.load_batch(batch_id, files)
        again = wh.load_batch(batch_id, files)  # the same stage file: load history
        # A re-delivery (crash between the load and the offset commit) in a new stage file,
        # with one new message: only that one is new.
        redelivered = [*messages, kafka_msg(11, event(11))]
        batch2, files2, _ = stage_batch(redelivered, sf_settings)
        second = wh.load_batch(batch2, files2)
        rows = raw_rows(wh, TABLE)
        history = wh.load_history()
    assert first.rows_inserted == 10
    assert (again.rows_inserted, again.files_skipped) == (0, 1)
    assert (second.rows_inserted, second.already_loaded, second.position_conflicts) == (1, 10, 0)
    assert len(rows) == len({r[0] for r in rows}) == 11
    assert [h.rows_inserted for h in history] == [10, 1]
    assert history[0].loaded_at < history[1].loaded_at


def test_a_file_snowflake_loaded_but_raw_did_not_record_is_copied_again(
    sf_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Snowflake's load history alone must never make rows go missing: our history decides."""
    batch_id, files, _ = stage_batch([kafka_msg(i, event(i)) for i in range(1, 6)], sf_settings)
    (staged,) = files
    with open_warehouse(sf_settings) as wh:
        assert isinstance(wh, SnowflakeWarehouse)
        wh._put(staged)
        copy = (
            f"copy into {LANDING_TABLE} from {stage_location(staged)} file_format = (type = json)"
        )
        assert wh.cur.execute(copy).fetchall()[0][1] == "LOADED"
        wh.cur.execute(f"delete from {LANDING_TABLE}")
        assert wh.cur.execute(copy).fetchall()[0][1] == "LOAD_SKIPPED"  # Snowflake's history
        with caplog.at_level(logging.WARNING, logger="ingest.warehouse_snowflake"):
            result = wh.load_batch(batch_id, files)
        assert result.rows_inserted == 5
        assert len(raw_rows(wh, TABLE)) == 5
    assert "copying it again (FORCE)" in caplog.text


def test_malformed_lines_and_position_conflicts_are_quarantined_like_duckdb(
    sf_settings: Settings,
) -> None:
    """A message at a known position with other content (a recreated topic) is quarantined with
    the reason, once; on DuckDB and on Snowflake alike."""
    first = [kafka_msg(1, event(1)), kafka_msg(2, event(2)), kafka_msg(3, b"not json")]
    recreated = [
        kafka_msg(1, event(1)),  # same content: a re-delivery, skipped
        kafka_msg(2, event(2, team_id="t_9")),  # other content: a conflict
        kafka_msg(3, b"still not json"),  # a quarantined position with other bytes: a conflict
    ]
    redelivered = [*recreated, kafka_msg(4, event(4))]  # in a new stage file
    batches = [stage_batch(b, sf_settings) for b in (first, recreated, redelivered)]
    outcomes: dict[str, dict[str, list]] = {}
    for name, wh in (
        ("duckdb", DuckDBWarehouse(sf_settings.warehouse_path)),
        ("fakesnow", open_warehouse(sf_settings)),
    ):
        with wh:
            results = [wh.load_batch(batch_id, files) for batch_id, files, _ in batches]
            outcomes[name] = {
                "results": [(r.inserted, r.already_loaded, r.position_conflicts) for r in results],
                "events": raw_rows(wh, TABLE),
                "quarantine": raw_rows(wh, "ingest_quarantine"),
            }
    duck, snow = outcomes["duckdb"], outcomes["fakesnow"]
    assert snow["results"] == duck["results"]
    assert snow["results"] == [
        ({TABLE: 2, "ingest_quarantine": 1}, 0, 0),
        ({TABLE: 0, "ingest_quarantine": 2}, 1, 2),
        ({TABLE: 1}, 2, 0),  # the conflict at /2 is not quarantined twice
    ]
    assert snow["events"] == duck["events"]
    # A conflicting payload's text: DuckDB keeps the producer's bytes, Snowflake the JSON value.
    conflict = next(r for r in snow["quarantine"] if r[0].endswith("/2"))
    duck_conflict = next(r for r in duck["quarantine"] if r[0].endswith("/2"))
    assert conflict[:-2] == duck_conflict[:-2]
    assert json.loads(conflict[-2]) == json.loads(duck_conflict[-2])
    assert json.loads(conflict[-2])["team_id"] == "t_9"
    assert base64.b64decode(conflict[-1]).decode() == conflict[-2]
    assert conflict[-3] == (
        f"position conflict: {conflict[0]} is already in raw.{TABLE} with different content "
        "(topic recreated or cluster changed?)"
    )
    others = [r for r in snow["quarantine"] if r is not conflict]
    assert others == [r for r in duck["quarantine"] if r is not duck_conflict]
    reasons = sorted(r[-3] for r in others)
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1].startswith("position conflict: kafka:CLUSTER/")
    assert sorted(r[-2] for r in others) == ["not json", "still not json"]


def test_a_replayed_file_is_skipped_before_staging(sf_settings: Settings, tmp_path: Path) -> None:
    """`count_positions` on Snowflake: a file raw already holds writes not even a stage file."""
    path = tmp_path / "replay.jsonl"
    path.write_text("".join(event(i).decode() + "\n" for i in range(7)) + "{broken\n")
    first = ingest_files([path], TOPIC, sf_settings)
    stage_files = sorted(sf_settings.stage_dir.rglob("*.ndjson.gz"))
    again = ingest_files([path], TOPIC, sf_settings)
    assert (first.rows_inserted, first.quarantined) == (8, 1)
    assert (again.rows_inserted, again.already_loaded, again.batches) == (0, 8, [])
    assert sorted(sf_settings.stage_dir.rglob("*.ndjson.gz")) == stage_files
    assert not sf_settings.warehouse_path.exists()


def _cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "REVOPS_"))}
    env.update(
        REVOPS_WAREHOUSE=str(settings.warehouse_path),
        REVOPS_STAGE=str(settings.stage_dir),
        SNOWFLAKE_PORT=str(settings.snowflake.port),
        SNOWFLAKE_DATABASE=settings.snowflake.database,
        REVOPS_SNOWFLAKE_TIMEOUT_SECONDS=str(TIMEOUT_S),
        **extra,
    )
    return env


def test_revops_ingest_file_target_fakesnow_end_to_end(
    sf_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event(i).decode() + "\n" for i in range(25)))
    cmd = [sys.executable, "-m", "ingest.cli", "ingest", "file", str(path), "--topic", TOPIC]
    first = subprocess.run(
        [*cmd, "--target", "fakesnow"],
        env=_cli_env(sf_settings),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert first.returncode == 0, first.stderr
    assert "25 new raw rows, 0 quarantined" in first.stdout
    # The variable instead of the flag; the second run finds everything loaded.
    again = subprocess.run(
        cmd,
        env=_cli_env(sf_settings, REVOPS_DBT_TARGET="fakesnow"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert again.returncode == 0, again.stderr
    assert "0 new raw rows" in again.stdout and "25 already loaded" in again.stdout
    # No DuckDB file and no lock file: the lock is the DuckDB file's only.
    assert not sf_settings.warehouse_path.exists()
    assert not Path(f"{sf_settings.warehouse_path}.lock").exists()
    with open_warehouse(sf_settings) as wh:
        rows = raw_rows(wh, TABLE)
    assert sorted(r[-1]["event_id"] for r in rows) == sorted(f"e{i}" for i in range(25))


@pytest.mark.kafka
def test_revops_ingest_kafka_lands_in_fakesnow(
    sf_settings: Settings, kafka_bootstrap: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from confluent_kafka import Producer

    import ingest.landing as landing
    from ingest.kafka.consumer import consume
    from ingest.topics import get_topic

    topic = f"{TOPIC}.{unique_name}"
    monkeypatch.setattr(
        landing, "get_topic", lambda name: get_topic(TOPIC if name.startswith(TOPIC) else name)
    )
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(30):
        producer.produce(topic, event(i) if i != 7 else b"{oops", key=f"k{i}".encode())
    assert producer.flush(30) == 0
    settings = replace(
        sf_settings,
        consumer_group=f"g-{unique_name}",
        extra_kafka_config={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
    )
    result = consume(settings, [topic], kafka_bootstrap, until_idle=True)
    assert (result.messages, result.rows_inserted, result.quarantined) == (30, 30, 1)
    with open_warehouse(settings) as wh:
        rows = raw_rows(wh, TABLE)
        quarantine = raw_rows(wh, "ingest_quarantine")
    assert len(rows) == 29 and all(r[0].startswith("kafka:") for r in rows)
    assert all(r[4] is not None and r[5] is not None for r in rows)  # key, Kafka timestamp
    assert [q[-2] for q in quarantine] == ["{oops"]


class TestSettings:
    def test_a_snowflake_target_without_its_variables_is_one_line_exit_2(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        for name in list(os.environ):
            if name.startswith("SNOWFLAKE_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("REVOPS_WAREHOUSE", str(tmp_path / "w.duckdb"))
        path = tmp_path / "e.jsonl"
        path.write_text(event(1).decode() + "\n")
        code = main(["ingest", "file", str(path), "--topic", TOPIC, "--target", "snowflake"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0
        assert "SNOWFLAKE_ACCOUNT is not set" in err
        monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "xy12345")
        monkeypatch.setenv("SNOWFLAKE_USER", "loader")
        assert main(["build", "--target", "snowflake"]) == 2
        assert "SNOWFLAKE_PRIVATE_KEY_PATH nor SNOWFLAKE_PASSWORD" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"REVOPS_DBT_TARGET": "snowflak"}, "REVOPS_DBT_TARGET must be one of"),
            ({"SNOWFLAKE_PORT": "80a"}, "SNOWFLAKE_PORT must be a TCP port"),
            ({"SNOWFLAKE_PROTOCOL": "ftp"}, "SNOWFLAKE_PROTOCOL must be http or https"),
            ({"SNOWFLAKE_PRIVATE_KEY_PATH": "/no/such.p8"}, "no such key file: /no/such.p8"),
            ({"REVOPS_SNOWFLAKE_TIMEOUT_SECONDS": "0"}, "REVOPS_SNOWFLAKE_TIMEOUT_SECONDS must"),
        ],
    )
    def test_bad_variables_are_named(self, env: dict[str, str], message: str) -> None:
        with pytest.raises(SettingsError, match=message):
            Settings.from_env(env)

    def test_key_pair_auth_wins_over_the_password_and_secrets_never_show(
        self, tmp_path: Path
    ) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = tmp_path / "rsa_key.p8"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"s3cret-phrase"),
            )
        )
        env = {
            "REVOPS_DBT_TARGET": "snowflake",
            "SNOWFLAKE_ACCOUNT": "xy12345.eu-central-1",
            "SNOWFLAKE_USER": "LOADER",
            "SNOWFLAKE_PASSWORD": "pw-Zq81!x",
            "SNOWFLAKE_PRIVATE_KEY_PATH": str(path),
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "s3cret-phrase",
            "SNOWFLAKE_ROLE": "LOADER",
            "SNOWFLAKE_WAREHOUSE": "LOADING",
        }
        settings = Settings.from_env(env)
        kwargs = settings.snowflake.connect_kwargs("snowflake")
        assert "password" not in kwargs
        loaded = serialization.load_der_private_key(kwargs["private_key"], password=None)
        assert loaded.private_numbers() == key.private_numbers()
        assert (kwargs["role"], kwargs["warehouse"], kwargs["database"]) == (
            "LOADER",
            "LOADING",
            "REVOPS",
        )
        assert "pw-Zq81!x" not in repr(settings) and "s3cret-phrase" not in repr(settings)
        wrong = Settings.from_env({**env, "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "nope"})
        with pytest.raises(SettingsError, match="wrong SNOWFLAKE_PRIVATE_KEY_PASSPHRASE") as exc:
            wrong.snowflake.connect_kwargs("snowflake")
        assert "nope" not in str(exc.value)
        password_only = {k: v for k, v in env.items() if "PRIVATE_KEY" not in k}
        assert Settings.from_env(password_only).snowflake.connect_kwargs("snowflake")[
            "password"
        ] == ("pw-Zq81!x")

    def test_build_passes_the_target_and_the_connection_to_dbt(self, tmp_path: Path) -> None:
        settings = Settings(
            dbt_target="fakesnow", snowflake=SnowflakeSettings(port=18085, database="REVOPS_CI")
        )
        cmd = dbt_command(settings, ["build"])
        assert cmd[cmd.index("--target") + 1] == "fakesnow"
        env = dbt_env(settings)
        assert (env["REVOPS_DBT_TARGET"], env["SNOWFLAKE_PORT"]) == ("fakesnow", "18085")
        assert env["SNOWFLAKE_DATABASE"] == "REVOPS_CI"
        assert "--target" not in dbt_command(Settings(), ["build"])


def test_stage_files_are_the_ones_duckdb_reads(sf_settings: Settings) -> None:
    """What is PUT is the local stage file byte for byte: gzip'd NDJSON, one line per message."""
    _, files, _ = stage_batch([kafka_msg(1, event(1))], sf_settings)
    (staged,) = files
    assert stage_location(staged).startswith("@raw.admin_service_stage/")
    assert stage_location(staged).endswith("/".join(staged.path.parts[-4:]))
    line = json.loads(gzip.decompress(staged.path.read_bytes()))
    assert line["source_position"] == f"kafka:CLUSTER/{TOPIC}/TOPICID/0/1"

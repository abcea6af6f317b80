"""The shared landing path: decode → stage file → raw, with quarantine and idempotency."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.envelope import SourceMessage, decode
from ingest.file_source import ingest_files
from ingest.landing import land_batch
from ingest.settings import Settings
from ingest.stage import write_stage_file
from ingest.warehouse import Warehouse

TOPIC = "admin.membership.v1"


def msg(value: bytes | None, offset: int = 0, key: bytes | None = b"r_1") -> SourceMessage:
    return SourceMessage(
        source_position=f"kafka:{TOPIC}/0/{offset}",
        topic=TOPIC,
        partition=0,
        offset=offset,
        key=key,
        timestamp_ms=1_767_225_600_000,
        value=value,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage", batch_max_messages=3
    )


def raw_rows(path: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"select * from raw.{table} order by _source_position").fetchall()
    finally:
        con.close()


class TestDecode:
    def test_object_is_spliced_verbatim(self) -> None:
        value = b'{"event_id": "e1",  "n": 1.50}'
        decoded = decode(msg(value))
        assert decoded.ok
        line = orjson.loads(decoded.line)
        assert line["payload"] == {"event_id": "e1", "n": 1.5}
        assert decoded.line.endswith(b',"payload":' + value + b"}\n")
        assert line["source_position"] == f"kafka:{TOPIC}/0/0"
        assert line["key"] == "r_1"

    def test_pretty_printed_json_is_compacted_to_one_line(self) -> None:
        decoded = decode(msg(b'{\n  "event_id": "e1"\n}'))
        assert decoded.ok
        assert decoded.line.count(b"\n") == 1
        assert orjson.loads(decoded.line)["payload"] == {"event_id": "e1"}

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (b'{"event_id": "e1"', "malformed JSON"),
            (b"not json at all", "malformed JSON"),
            (b"[1, 2]", "JSON is a list, not an object"),
            (b'"a string"', "JSON is a str, not an object"),
            (b"", "empty message"),
            (None, "empty message"),
            (b"   ", "empty message"),
            (b'{"event_id": "\xff\xfe"}', "malformed JSON"),
        ],
    )
    def test_undecodable_messages_become_quarantine_lines(
        self, value: bytes | None, reason: str
    ) -> None:
        decoded = decode(msg(value))
        assert not decoded.ok
        record = orjson.loads(decoded.line)
        assert record["reason"].startswith(reason)
        assert record["source_position"] == f"kafka:{TOPIC}/0/0"
        # The original bytes survive exactly, even when they are not valid UTF-8.
        import base64

        assert base64.b64decode(record["raw_base64"]) == (value or b"")


class TestStage:
    def test_layout_mirrors_an_object_store_and_is_complete(self, tmp_path: Path) -> None:
        staged = write_stage_file(tmp_path, "admin_service", "20260110T090000Z-abc", [b"{}\n"] * 2)
        assert staged.path == tmp_path / "admin_service/2026/01/10/20260110T090000Z-abc.ndjson.gz"
        assert gzip.decompress(staged.path.read_bytes()) == b"{}\n{}\n"
        assert staged.rows == 2
        assert not list(tmp_path.rglob("*.tmp"))


class TestWarehouse:
    def test_batch_lands_events_and_quarantine_with_envelope_columns(
        self, settings: Settings
    ) -> None:
        good = b'{"event_id": "e1", "event_type": "MEMBERSHIP_ADDED"}'
        with Warehouse(settings.warehouse_path) as wh:
            result = land_batch([msg(good, 0), msg(b"{oops", 1)], settings, wh)
        assert result.quarantined == 1
        assert result.load is not None
        assert result.load.inserted == {"admin_membership_events": 1, "ingest_quarantine": 1}
        (row,) = raw_rows(settings.warehouse_path, "admin_membership_events")
        position, topic, partition, offset, key, kafka_ts, _, batch_id, stage_file, body = row
        assert (position, topic, partition, offset) == (f"kafka:{TOPIC}/0/0", TOPIC, 0, 0)
        assert key == "r_1"
        assert kafka_ts.isoformat() == "2026-01-01T00:00:00"
        assert batch_id == result.batch_id and Path(stage_file).exists()
        assert json.loads(body) == {"event_id": "e1", "event_type": "MEMBERSHIP_ADDED"}
        (quarantined,) = raw_rows(settings.warehouse_path, "ingest_quarantine")
        assert quarantined[0] == f"kafka:{TOPIC}/0/1"
        assert quarantined[9].startswith("malformed JSON")
        assert quarantined[10] == "{oops"

    def test_reloading_positions_is_a_no_op(self, settings: Settings) -> None:
        """A consumer that crashed after the load re-reads the same offsets into a new file."""
        batch = [msg(b'{"event_id": "e1"}', 0), msg(b'{"event_id": "e2"}', 1)]
        with Warehouse(settings.warehouse_path) as wh:
            first = land_batch(batch, settings, wh)
            again = land_batch([*batch, msg(b'{"event_id": "e3"}', 2)], settings, wh)
        assert first.rows_inserted == 2
        assert again.load is not None
        assert again.load.inserted == {"admin_membership_events": 1}
        assert again.load.already_loaded == 2
        assert len(raw_rows(settings.warehouse_path, "admin_membership_events")) == 3

    def test_reloading_the_same_stage_file_is_skipped_by_checksum(self, settings: Settings) -> None:
        staged = write_stage_file(
            settings.stage_dir, "admin_service", "20260110T090000Z-x", [decode(msg(b"{}")).line]
        )
        with Warehouse(settings.warehouse_path) as wh:
            assert wh.load_batch("b1", [staged]).rows_inserted == 1
            second = wh.load_batch("b2", [staged])
        assert second.files_skipped == 1 and second.rows_inserted == 0

    def test_a_failing_load_leaves_nothing_behind(self, settings: Settings) -> None:
        good = write_stage_file(
            settings.stage_dir, "admin_service", "20260110T090000Z-g", [decode(msg(b"{}")).line]
        )
        bad = write_stage_file(settings.stage_dir, "okta", "20260110T090000Z-g", [b"{}\n"])
        bad.path.write_bytes(b"this is not gzip")
        with Warehouse(settings.warehouse_path) as wh:
            with pytest.raises(duckdb.Error):
                wh.load_batch("b1", [good, bad])
            assert wh.con.execute("select count(*) from raw.load_history").fetchone() == (0,)
        assert raw_rows(settings.warehouse_path, "admin_membership_events") == []


class TestFileIngest:
    def test_positions_batches_and_replay(self, settings: Settings, tmp_path: Path) -> None:
        source = tmp_path / "events.jsonl"
        source.write_bytes(
            b'{"event_id": "e1"}\n\n{"event_id": "e2"}\r\n{broken\n'
            b'{"event_id": "e3"}\n{"event_id": "e4"}\n'
        )
        first = ingest_files([source], TOPIC, settings)
        assert first.messages == 5  # the blank line carries no data and is not a message
        assert len(first.batches) == 2  # batch_max_messages = 3
        assert first.quarantined == 1
        assert first.rows_inserted == 5
        rows = raw_rows(settings.warehouse_path, "admin_membership_events")
        assert [r[3] for r in rows] == [1, 3, 5, 6]  # offsets are line numbers
        assert all(r[0].startswith("file:") and r[0].endswith(f"/{r[3]}") for r in rows)

        again = ingest_files([source], TOPIC, settings)
        assert again.rows_inserted == 0
        assert len(raw_rows(settings.warehouse_path, "admin_membership_events")) == 4


class TestCli:
    def run(self, *argv: str) -> int:
        from ingest.cli import main

        return main(list(argv))

    def test_unknown_topic_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            self.run("ingest", "file", "x.jsonl", "--topic", "nope")
        assert exc.value.code == 2
        assert "unknown topic 'nope'" in capsys.readouterr().err

    def test_missing_file_is_one_clear_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REVOPS_WAREHOUSE", str(tmp_path / "w.duckdb"))
        code = self.run("ingest", "file", str(tmp_path / "missing.jsonl"), "--topic", TOPIC)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert len(err) == 1 and "no such file" in err[0]

    def test_unreachable_broker_is_one_clear_line(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # capfd: the Kafka client writes its own log lines straight to file descriptor 2.
        monkeypatch.setenv("REVOPS_WAREHOUSE", str(tmp_path / "w.duckdb"))
        monkeypatch.setenv("REVOPS_STAGE", str(tmp_path / "stage"))
        code = self.run(
            "ingest", "kafka", "--topic", TOPIC, "--until-idle", "--bootstrap", "127.0.0.1:9"
        )
        err = capfd.readouterr().err.strip().splitlines()
        assert code == 2
        assert len(err) == 1 and "cannot reach Kafka at 127.0.0.1:9" in err[0]

    def test_bad_timestamp_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            self.run("build", "--as-known-at", "yesterday")
        assert exc.value.code == 2
        assert "not an ISO-8601 timestamp" in capsys.readouterr().err

    def test_kafka_without_bootstrap(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("REVOPS_KAFKA_BOOTSTRAP", raising=False)
        assert self.run("ingest", "kafka", "--topic", TOPIC, "--until-idle") == 2
        assert "no Kafka bootstrap servers" in capsys.readouterr().err

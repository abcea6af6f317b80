"""The shared landing path: decode → stage file → raw, with quarantine and idempotency."""

from __future__ import annotations

import codecs
import errno
import gzip
import json
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.envelope import SourceMessage, decode
from ingest.file_source import SourceFileError, expand_paths, ingest_files
from ingest.landing import land_batch
from ingest.settings import Settings
from ingest.stage import StageWriteError, write_stage_file
from ingest.warehouse import DuckDBWarehouse

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
        with DuckDBWarehouse(settings.warehouse_path) as wh:
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
        with DuckDBWarehouse(settings.warehouse_path) as wh:
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
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            assert wh.load_batch("b1", [staged]).rows_inserted == 1
            second = wh.load_batch("b2", [staged])
        assert second.files_skipped == 1 and second.rows_inserted == 0

    def test_a_failing_load_leaves_nothing_behind(self, settings: Settings) -> None:
        good = write_stage_file(
            settings.stage_dir, "admin_service", "20260110T090000Z-g", [decode(msg(b"{}")).line]
        )
        bad = write_stage_file(settings.stage_dir, "okta", "20260110T090000Z-g", [b"{}\n"])
        bad.path.write_bytes(b"this is not gzip")
        with DuckDBWarehouse(settings.warehouse_path) as wh:
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


class TestStageFailures:
    def test_a_failed_write_leaves_no_temp_file_and_names_the_path(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import ingest.stage

        def disk_full(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(ingest.stage.os, "fsync", disk_full)
        with pytest.raises(StageWriteError) as exc:
            write_stage_file(tmp_path, "admin_service", "20260110T090000Z-full", [b"{}\n"])
        message = str(exc.value)
        assert str(tmp_path / "admin_service/2026/01/10/20260110T090000Z-full") in message
        assert "No space left on device" in message
        assert not list(tmp_path.rglob("*.tmp"))
        monkeypatch.undo()
        # The next attempt starts clean and succeeds.
        staged = write_stage_file(tmp_path, "admin_service", "20260110T090000Z-full", [b"{}\n"])
        assert staged.path.exists() and not list(tmp_path.rglob("*.tmp"))


class TestKnowledgeTime:
    def test_load_time_never_goes_back_when_the_clock_does(self, settings: Settings) -> None:
        ticks = iter([datetime(2026, 5, 1, 12, 0), datetime(2026, 5, 1, 11, 0)])
        with DuckDBWarehouse(settings.warehouse_path, clock=lambda: next(ticks)) as wh:
            first = land_batch([msg(b'{"event_id": "e1"}', 0)], settings, wh)
            second = land_batch([msg(b'{"event_id": "e2"}', 1)], settings, wh)
        assert first.load is not None and second.load is not None
        assert first.load.loaded_at == datetime(2026, 5, 1, 12, 0)
        assert second.load.loaded_at == datetime(2026, 5, 1, 12, 0, 0, 1)
        rows = raw_rows(settings.warehouse_path, "admin_membership_events")
        assert [r[6] for r in rows] == [first.load.loaded_at, second.load.loaded_at]


class TestPositionConflicts:
    def test_known_position_with_other_content_is_quarantined_never_skipped(
        self, settings: Settings
    ) -> None:
        """A recreated topic reuses offsets: the same position now carries another event."""
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            land_batch([msg(b'{"event_id": "old"}', 0)], settings, wh)
            clash = land_batch([msg(b'{"event_id": "new"}', 0), msg(b'{"e": 1}', 1)], settings, wh)
            again = land_batch([msg(b'{"event_id": "new"}', 0)], settings, wh)
        assert clash.load is not None and again.load is not None
        assert clash.load.position_conflicts == 1
        assert clash.load.inserted == {"admin_membership_events": 1, "ingest_quarantine": 1}
        # Re-delivering the same conflicting message adds nothing: it is already quarantined.
        assert again.load.position_conflicts == 0 and again.load.rows_inserted == 0
        events = raw_rows(settings.warehouse_path, "admin_membership_events")
        assert [json.loads(r[9])["event_id"] for r in events[:1]] == ["old"]
        (conflict,) = raw_rows(settings.warehouse_path, "ingest_quarantine")
        assert conflict[0] == f"kafka:{TOPIC}/0/0"
        assert conflict[9].startswith(f"position conflict: kafka:{TOPIC}/0/0 is already in raw")
        assert json.loads(conflict[10]) == {"event_id": "new"}

    def test_same_position_same_content_is_still_a_silent_no_op(self, settings: Settings) -> None:
        with DuckDBWarehouse(settings.warehouse_path) as wh:
            land_batch([msg(b'{"event_id": "e1"}', 0)], settings, wh)
            again = land_batch([msg(b'{"event_id": "e1"}', 0), msg(b"{}", 1)], settings, wh)
        assert again.load is not None
        assert again.load.position_conflicts == 0 and again.load.already_loaded == 1
        assert again.load.inserted == {"admin_membership_events": 1}


class TestFileConveniences:
    def test_a_leading_byte_order_mark_is_not_part_of_the_first_event(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        source = tmp_path / "windows.jsonl"
        source.write_bytes(codecs.BOM_UTF8 + b'{"event_id": "e1"}\r\n{"event_id": "e2"}\r\n')
        result = ingest_files([source], TOPIC, settings)
        assert result.quarantined == 0 and result.rows_inserted == 2
        rows = raw_rows(settings.warehouse_path, "admin_membership_events")
        assert [json.loads(r[9])["event_id"] for r in rows] == ["e1", "e2"]

    def test_a_kafka_message_with_a_byte_order_mark_stays_quarantined(self) -> None:
        assert not decode(msg(codecs.BOM_UTF8 + b'{"event_id": "e1"}')).ok

    def test_a_directory_is_its_jsonl_files_in_name_order(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        folder = tmp_path / "replay"
        folder.mkdir()
        (folder / "b.jsonl").write_bytes(b'{"event_id": "b1"}\n')
        (folder / "a.jsonl").write_bytes(b'{"event_id": "a1"}\n{"event_id": "a2"}\n')
        (folder / "notes.txt").write_bytes(b"not an event file\n")
        assert expand_paths([folder]) == [folder / "a.jsonl", folder / "b.jsonl"]
        result = ingest_files([folder], TOPIC, settings)
        assert result.rows_inserted == 3 and result.quarantined == 0

    def test_an_empty_directory_says_what_it_is(self, tmp_path: Path) -> None:
        with pytest.raises(SourceFileError, match=r"a directory with no \*\.jsonl files"):
            expand_paths([tmp_path])

    def test_replaying_a_loaded_file_writes_no_stage_file(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        source = tmp_path / "events.jsonl"
        source.write_bytes(b"".join(b'{"event_id": "e%d"}\n' % n for n in range(7)) + b"{bad\n")
        first = ingest_files([source], TOPIC, settings)
        staged = sorted(settings.stage_dir.rglob("*.ndjson.gz"))
        again = ingest_files([source], TOPIC, settings)
        assert first.rows_inserted == 8
        assert again.rows_inserted == 0 and again.already_loaded == 8 and again.messages == 8
        assert sorted(settings.stage_dir.rglob("*.ndjson.gz")) == staged

    @pytest.mark.parametrize("suffix", [".jsonl.zst", ".jsonl.gz"])
    def test_a_compressed_file_lands_as_its_plain_lines(
        self, settings: Settings, tmp_path: Path, suffix: str
    ) -> None:
        import zstandard

        lines = [b'{"event_id": "e%d"}' % n for n in range(5)] + [b"", b"{bad"]
        plain = b"\n".join(lines) + b"\n"
        source = tmp_path / f"events{suffix}"
        if suffix == ".jsonl.zst":  # two frames, as the large generator writes them
            cut = plain.index(b'{"event_id": "e3"}')
            source.write_bytes(zstandard.compress(plain[:cut]) + zstandard.compress(plain[cut:]))
        else:
            source.write_bytes(gzip.compress(plain))
        assert expand_paths([tmp_path]) == [source]
        first = ingest_files([source], TOPIC, settings)
        assert first.messages == 6 and first.quarantined == 1 and first.rows_inserted == 6
        rows = raw_rows(settings.warehouse_path, "admin_membership_events")
        assert [r[3] for r in rows] == [1, 2, 3, 4, 5]  # decompressed line numbers
        assert [json.loads(r[9])["event_id"] for r in rows] == [f"e{n}" for n in range(5)]
        again = ingest_files([source], TOPIC, settings)
        assert again.rows_inserted == 0 and again.already_loaded == 6

    @pytest.mark.parametrize("suffix", [".jsonl.zst", ".jsonl.gz"])
    def test_damaged_compressed_data_is_one_clear_error(
        self, settings: Settings, tmp_path: Path, suffix: str
    ) -> None:
        import zstandard

        plain = b"".join(b'{"event_id": "e%d"}\n' % n for n in range(2000))
        packed = zstandard.compress(plain) if suffix == ".jsonl.zst" else gzip.compress(plain)
        source = tmp_path / f"events{suffix}"
        source.write_bytes(packed[: len(packed) // 2])  # cut off mid-stream
        with pytest.raises(SourceFileError, match="damaged compressed data"):
            ingest_files([source], TOPIC, settings)

    def test_a_file_cut_short_by_a_crash_lands_the_rest(
        self, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import ingest.file_source

        source = tmp_path / "events.jsonl"
        source.write_bytes(b"".join(b'{"event_id": "e%d"}\n' % n for n in range(7)))
        calls = []

        def crash_on_second_batch(*args: object) -> object:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("killed")
            return land_batch(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(ingest.file_source, "land_batch", crash_on_second_batch)
        with pytest.raises(RuntimeError):
            ingest_files([source], TOPIC, settings)
        monkeypatch.undo()
        healed = ingest_files([source], TOPIC, settings)
        assert healed.already_loaded == 3 and healed.rows_inserted == 4
        assert len(raw_rows(settings.warehouse_path, "admin_membership_events")) == 7

"""The fast file-landing path (block reads, streamed compression) lands what the simple one does.

`iter_file_runs` splits lines out of large blocks and `StreamingBatch` gzips a batch piece by
piece on another thread; both must give exactly the lines, positions and stage bytes of the
line-by-line reader (`iter_file_messages`) and the one-shot encoder (`stage_batch`).
"""

from __future__ import annotations

import codecs
import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

import ingest.file_source
from ingest.file_source import ingest_files, iter_file_messages, iter_file_runs
from ingest.landing import CompressedBatch, StreamingBatch, land_batch, stage_batch
from ingest.settings import Settings
from ingest.stage import stage_compressor
from ingest.warehouse import DuckDBWarehouse

TOPIC = "admin.membership.v1"

TRICKY_LINES = [
    b'{"event_id": "e1"}',
    b"",
    b"   ",
    b"\t",
    b"\x0b",
    b"\r",
    b'  {"event_id": "padded"}  ',
    b'{"event_id": "cr"}\r',
    b'{"event_id": "crs"}\r\r',
    b'{"event_id": "inner\rcr"}',
    b"{broken",
    b"[1, 2]",
    b'"a string"',
    b"null",
    b'{"event_id": "\xff\xfe"}',
    '{"name": "caf\u00e9 \u2603"}'.encode(),
    codecs.BOM_UTF8 + b'{"event_id": "bom inside"}',
    b'{"a": 1} trailing',
    b'{"a": NaN}',
    b'{"a": 1,}',
    b'{"pct": "%s %d %%"}',
    b'{"long": "' + b"x" * 3000 + b'"}',
]


def tricky_file(path: Path, n: int, *, bom: bool, crlf: bool, final_newline: bool) -> Path:
    lines = [TRICKY_LINES[(i * 7) % len(TRICKY_LINES)] for i in range(n)]
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


@pytest.mark.parametrize("block", [1, 7, 64, 4096, 8 << 20])
@pytest.mark.parametrize(
    ("bom", "crlf", "final_newline"),
    [(False, False, True), (True, False, False), (True, True, True), (False, True, False)],
)
def test_block_reader_gives_the_lines_of_line_iteration(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    block: int,
    bom: bool,
    crlf: bool,
    final_newline: bool,
) -> None:
    monkeypatch.setattr(ingest.file_source, "READ_BLOCK", block)
    source = tricky_file(tmp_path / "e.jsonl", 200, bom=bom, crlf=crlf, final_newline=final_newline)
    expected = [(m.offset, m.value) for m in iter_file_messages(source, TOPIC)]
    for batch_size in (1, 3, 50, 10_000):
        runs = list(iter_file_runs(source, TOPIC, batch_size))
        got = [(o, v) for r in runs for o, v in zip(r.offsets, r.values, strict=True)]
        assert got == expected
        assert all(len(r.offsets) == batch_size for r in runs[:-1])
        assert 0 < len(runs[-1].offsets) <= batch_size
        prefix = next(iter_file_messages(source, TOPIC)).source_position.rsplit("/", 1)[0] + "/"
        assert {r.prefix for r in runs} == {prefix}


def test_an_empty_or_blank_file_has_no_runs(tmp_path: Path) -> None:
    for data in (b"", b"\n", b"\n \n\t\r\n", b"   "):
        source = tmp_path / "blank.jsonl"
        source.write_bytes(data)
        assert list(iter_file_runs(source, TOPIC, 3)) == []


def test_the_streaming_compressor_writes_gzip_compress_bytes() -> None:
    data = b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, b"y" * (n % 97)) for n in range(20_000))
    compressor = stage_compressor()
    pieces = [compressor.compress(data[i : i + 4099]) for i in range(0, len(data), 4099)]
    assert b"".join([*pieces, compressor.flush()]) == gzip.compress(data, 1, mtime=0)


@pytest.mark.parametrize("piece", [1, 5, 1000])
def test_a_streamed_batch_stages_the_bytes_of_a_one_shot_batch(tmp_path: Path, piece: int) -> None:
    source = tricky_file(tmp_path / "e.jsonl", 300, bom=True, crlf=False, final_newline=True)
    (run,) = iter_file_runs(source, TOPIC, 10_000)
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage")
    _, expected_files, expected_quarantined = stage_batch([run], settings, "20260110T090000Z-a")
    with ThreadPoolExecutor(max_workers=1) as compressor:
        streaming = StreamingBatch(run.topic, run.prefix, run.partition, compressor)
        for i in range(0, len(run.offsets), piece):
            streaming.add(run.offsets[i : i + piece], run.values[i : i + piece])
        batch = streaming.finish()
    assert isinstance(batch, CompressedBatch)
    assert batch.messages == len(run.offsets) and batch.quarantined == expected_quarantined
    _, files, quarantined = stage_batch(batch, settings, "20260110T090000Z-b")
    assert quarantined == expected_quarantined
    assert (
        [f.source for f in files]
        == [f.source for f in expected_files]
        == [
            "admin_service",
            "quarantine",
        ]
    )
    for got, want in zip(files, expected_files, strict=True):
        assert got.path.read_bytes() == want.path.read_bytes()
        assert (got.sha256, got.rows, got.min_offset, got.max_offset, got.position_ranges) == (
            want.sha256,
            want.rows,
            want.min_offset,
            want.max_offset,
            want.position_ranges,
        )


def test_the_pipeline_lands_what_batch_by_batch_landing_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest.file_source, "READ_BLOCK", 97)
    monkeypatch.setattr(ingest.file_source, "ENCODE_PIECE", 4)
    source = tricky_file(tmp_path / "e.jsonl", 120, bom=True, crlf=True, final_newline=False)

    def settings(name: str) -> Settings:
        return Settings(
            warehouse_path=tmp_path / name / "w.duckdb",
            stage_dir=tmp_path / name / "stage",
            batch_max_messages=10,
        )

    fast = settings("fast")
    result = ingest_files([source], TOPIC, fast)
    slow = settings("slow")
    messages = list(iter_file_messages(source, TOPIC))
    with DuckDBWarehouse(slow.warehouse_path) as wh:
        for i in range(0, len(messages), 10):
            land_batch(messages[i : i + 10], slow, wh)
    assert result.messages == len(messages) and len(result.batches) == -(-len(messages) // 10)
    assert result.quarantined > 0

    def rows(s: Settings) -> dict[str, list[tuple]]:
        con = duckdb.connect(str(s.warehouse_path), read_only=True)
        try:
            return {
                table: con.execute(
                    f"select * exclude (_loaded_at, _batch_id, _stage_file) from raw.{table} "
                    "order by _source_position"
                ).fetchall()
                for table in ("admin_membership_events", "ingest_quarantine")
            }
        finally:
            con.close()

    assert rows(fast) == rows(slow)
    again = ingest_files([source], TOPIC, fast)
    assert again.rows_inserted == 0 and again.already_loaded == len(messages)

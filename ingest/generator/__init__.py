"""Synthetic company: deterministic JSONL event streams with realistic dirt, one file per topic.

`generate(scale, seed, out_dir)` writes `<out_dir>/<topic>.jsonl` in *delivery order* (what a
consumer would receive) and returns per-topic counts, including how much of each kind of dirt was
put in. `kafka_key(topic, payload)` is the message key the producer uses.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import zstandard

from ingest.generator.bulk import generate_bulk
from ingest.generator.company import HISTORY_END, SCALES, Company, Scale
from ingest.generator.sink import Dirt, TopicSink

__all__ = ["SCALES", "generate", "kafka_key", "simulate"]

# Okta and Zendesk deliver with fewer problems than the Admin Service (no backdating, no retries
# with new ids), but they do re-deliver.
_QUIET = Dirt(
    exact_duplicate=0.01,
    semantic_duplicate=0.0,
    backdated=0.0,
    beyond_window=0.0,
    malformed=0.0,
    unknown_type=0.0,
    missing_key=0.0,
    bad_timestamp=0.0,
    extra_field=0.0,
)


def generate(scale: str, seed: int, out_dir: Path) -> dict[str, dict]:
    return simulate(scale, seed, out_dir)[1]


def simulate(scale: str | Scale, seed: int, out_dir: Path) -> tuple[Company, dict[str, dict]]:
    """Run the company and write its streams; also return the company in its final state.

    At a bulk scale (`large`) the streams are `<topic>.jsonl.zst` (zstd frames, ~7x smaller):
    the simulation runs the org and `ingest.generator.bulk` adds coverage and tickets.
    """
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
        scale = SCALES[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skeleton = out_dir / ".skeleton"
    if scale.bulk is not None:
        skeleton.mkdir(exist_ok=True)
    rnd = random.Random(seed)
    specs = {
        "admin.membership.v1": ("event_id", "effective_at", "emitted_at", Dirt()),
        "okta.system_log.v1": ("uuid", "published", None, _QUIET),
        "zendesk.ticket_events.v1": ("id", "created_at", None, _QUIET),
    }
    sinks = {
        topic: TopicSink(
            skeleton / f"{topic}.tagged" if scale.bulk else out_dir / f"{topic}.jsonl",
            random.Random(rnd.getrandbits(64)),
            dirt,
            id_field=id_field,
            time_field=time_field,
            emitted_field=emitted_field,
            history_end=HISTORY_END,
            tagged=scale.bulk is not None,
        )
        for topic, (id_field, time_field, emitted_field, dirt) in specs.items()
    }
    company = Company(scale, rnd, sinks)
    company.run()
    for sink in sinks.values():
        sink.close()
    paths = {topic: sink.path for topic, sink in sinks.items()}
    if scale.bulk is not None:
        paths = generate_bulk(
            company,
            rnd.getrandbits(63),
            {topic: sink.path for topic, sink in sinks.items()},
            out_dir,
            {topic: sink.stats for topic, sink in sinks.items()},
        )
        shutil.rmtree(skeleton)
    # One malformed line each for Okta and Zendesk: every source gets quarantine coverage.
    truncated = b'{"truncated": \n'
    for topic in ("okta.system_log.v1", "zendesk.ticket_events.v1"):
        with open(paths[topic], "ab") as fh:
            fh.write(zstandard.compress(truncated) if scale.bulk else truncated)
        sinks[topic].stats["malformed"] += 1
        sinks[topic].stats["messages"] += 1
    return company, {
        topic: {"path": paths[topic], **dict(sorted(sink.stats.items()))}
        for topic, sink in sinks.items()
    }


def kafka_key(topic: str, payload: dict) -> bytes | None:
    """Partitioning key: per repl (or team) for the Admin Service, per user, per ticket."""
    value: object = None
    if topic == "admin.membership.v1":
        value = payload.get("repl_id") or payload.get("team_id")
    elif topic == "okta.system_log.v1":
        target = payload.get("target") or [{}]
        value = target[0].get("id") if isinstance(target, list) and target else None
    elif topic == "zendesk.ticket_events.v1":
        value = payload.get("ticket_id")
    return None if value is None else str(value).encode()

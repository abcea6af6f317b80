"""A local Kafka: librdkafka's mock cluster, speaking the real protocol on loopback.

No broker package exists for this environment, but librdkafka embeds a mock cluster: a client
created with `test.mock.num.brokers` starts one and logs its bootstrap servers. Other clients
(our producer and consumer, in this or another process) connect to it over TCP exactly as they
would to a real cluster. The cluster lives as long as the client that owns it.

`python -m ingest.kafka.mock_cluster` starts one, prints `REVOPS_KAFKA_BOOTSTRAP=<servers>` and
serves until SIGTERM/SIGINT (the demo runs it this way).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from confluent_kafka import Producer

_MARKER = "replaced with "


class MockClusterError(RuntimeError):
    pass


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.bootstrap: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if self.bootstrap is None and _MARKER in text:
            self.bootstrap = text.split(_MARKER, 1)[1].split()[0].strip(",")


class MockCluster:
    """Context manager owning a mock cluster; `bootstrap_servers` is where clients connect."""

    def __init__(self, num_brokers: int = 3, timeout_s: float = 15.0) -> None:
        self.num_brokers = num_brokers
        self.timeout_s = timeout_s
        self._owner: Producer | None = None
        self.bootstrap_servers = ""

    def start(self) -> str:
        capture = _Capture()
        logger = logging.getLogger(f"revops.kafka.mock.{id(self)}")
        logger.addHandler(capture)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        self._owner = Producer({"test.mock.num.brokers": self.num_brokers, "logger": logger})
        deadline = time.monotonic() + self.timeout_s
        while capture.bootstrap is None:
            if time.monotonic() > deadline:
                raise MockClusterError(
                    "librdkafka did not report the mock cluster's bootstrap servers"
                )
            self._owner.poll(0.05)
        self.bootstrap_servers = capture.bootstrap
        return self.bootstrap_servers

    def close(self) -> None:
        if self._owner is not None:
            self._owner.flush(0)
            self._owner = None

    def __enter__(self) -> MockCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with MockCluster() as cluster:
        print(f"REVOPS_KAFKA_BOOTSTRAP={cluster.bootstrap_servers}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

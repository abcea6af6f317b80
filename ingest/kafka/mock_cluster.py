"""A local Kafka: librdkafka's mock cluster, speaking the real protocol on loopback.

No broker package exists for this environment, but librdkafka embeds a mock cluster. It is
driven here through librdkafka's C API (`rd_kafka_mock_*`, loaded with ctypes from the library
confluent-kafka ships), because that API does what no Kafka request to the mock can: name a
controller (without one, admin requests such as DescribeTopics wait forever, and the consumer
reads topic ids with DescribeTopics) and delete or create a topic (the mock answers no
CreateTopics/DeleteTopics). Other clients (our producer and consumer, in this or another process)
connect to it over TCP exactly as they would to a real cluster. Each running cluster has its own
cluster id (derived from its memory address, so a cluster started after another was closed may
get the same one), and each topic a random topic id, a recreated topic a new one. The cluster
lives until `close()`.

`python -m ingest.kafka.mock_cluster` starts one, prints `REVOPS_KAFKA_BOOTSTRAP=<servers>` and
serves until SIGTERM/SIGINT (the demo runs it this way).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
import threading
from pathlib import Path

import confluent_kafka

_RD_KAFKA_PRODUCER = 0
_ERRSTR_SIZE = 512


class MockClusterError(RuntimeError):
    pass


def _load_librdkafka() -> ctypes.CDLL:
    """The librdkafka confluent-kafka uses (the wheel's own copy), else the system's."""
    package = Path(confluent_kafka.__file__).resolve().parent
    candidates = [
        *sorted(package.parent.glob("confluent_kafka.libs/librdkafka*")),  # Linux wheels
        *sorted(package.glob(".dylibs/librdkafka*")),  # macOS wheels
    ]
    system = ctypes.util.find_library("rdkafka")
    if system:
        candidates.append(Path(system))
    for candidate in candidates:
        try:
            lib = ctypes.CDLL(str(candidate))
        except OSError:
            continue
        if hasattr(lib, "rd_kafka_mock_cluster_new"):
            return _declare(lib)
    raise MockClusterError("no librdkafka with the mock cluster API found next to confluent-kafka")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures = {
        "rd_kafka_conf_new": ([], p),
        "rd_kafka_conf_set": ([p, s, s, s, ctypes.c_size_t], i),
        "rd_kafka_new": ([i, p, s, ctypes.c_size_t], p),
        "rd_kafka_destroy": ([p], None),
        "rd_kafka_mock_cluster_new": ([p, i], p),
        "rd_kafka_mock_cluster_destroy": ([p], None),
        "rd_kafka_mock_cluster_bootstraps": ([p], s),
        "rd_kafka_mock_set_controller_id": ([p, ctypes.c_int32], None),
        "rd_kafka_mock_topic_create": ([p, s, i, i], i),
        "rd_kafka_mock_topic_delete": ([p, s], i),
        "rd_kafka_err2str": ([i], s),
    }
    for name, (argtypes, restype) in signatures.items():
        fn = getattr(lib, name, None)
        if fn is None:
            raise MockClusterError(f"this librdkafka has no {name}: upgrade confluent-kafka")
        fn.argtypes, fn.restype = argtypes, restype
    return lib


class MockCluster:
    """Context manager owning a mock cluster; `bootstrap_servers` is where clients connect."""

    def __init__(self, num_brokers: int = 3, timeout_s: float = 15.0) -> None:
        self.num_brokers = num_brokers
        self.timeout_s = timeout_s  # kept for callers; the C API starts the cluster synchronously
        self.bootstrap_servers = ""
        self._lib: ctypes.CDLL | None = None
        self._rk: int | None = None
        self._cluster: int | None = None

    def start(self) -> str:
        lib = self._lib = _load_librdkafka()
        errstr = ctypes.create_string_buffer(_ERRSTR_SIZE)
        conf = lib.rd_kafka_conf_new()
        # The owning handle connects nowhere; only errors of the mock itself are worth printing.
        lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, _ERRSTR_SIZE)
        self._rk = lib.rd_kafka_new(_RD_KAFKA_PRODUCER, conf, errstr, _ERRSTR_SIZE)
        if not self._rk:
            raise MockClusterError(f"cannot create the mock cluster's client: {errstr.value!r}")
        self._cluster = lib.rd_kafka_mock_cluster_new(self._rk, self.num_brokers)
        if not self._cluster:
            self.close()
            raise MockClusterError("librdkafka could not start a mock cluster")
        # Brokers are numbered from 1; the mock names no controller unless told.
        lib.rd_kafka_mock_set_controller_id(self._cluster, 1)
        self.bootstrap_servers = lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()
        return self.bootstrap_servers

    def create_topic(self, topic: str, partitions: int = 4, replication_factor: int = 0) -> None:
        """Create `topic` (it gets a new topic id); replication defaults to min(3, brokers)."""
        rf = replication_factor or min(3, self.num_brokers)
        self._check(
            self._mock().rd_kafka_mock_topic_create(self._cluster, topic.encode(), partitions, rf),
            f"create topic {topic}",
        )

    def delete_topic(self, topic: str) -> None:
        """Delete `topic` with its messages and the offsets committed for it."""
        self._check(
            self._mock().rd_kafka_mock_topic_delete(self._cluster, topic.encode()),
            f"delete topic {topic}",
        )

    def recreate_topic(self, topic: str, partitions: int = 4) -> None:
        """Delete and create `topic`: same name, new topic id, offsets from 0 again."""
        self.delete_topic(topic)
        self.create_topic(topic, partitions)

    def _mock(self) -> ctypes.CDLL:
        if self._lib is None or self._cluster is None:
            raise MockClusterError("the mock cluster is not running")
        return self._lib

    def _check(self, err: int, what: str) -> None:
        if err:
            reason = self._mock().rd_kafka_err2str(err).decode()
            raise MockClusterError(f"mock cluster: cannot {what}: {reason}")

    def close(self) -> None:
        lib = self._lib
        if lib is None:
            return
        if self._cluster:
            lib.rd_kafka_mock_cluster_destroy(self._cluster)
        if self._rk:
            lib.rd_kafka_destroy(self._rk)
        self._cluster = self._rk = None

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
        # The command's one line of output (the demo reads it), not a progress message.
        print(f"REVOPS_KAFKA_BOOTSTRAP={cluster.bootstrap_servers}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

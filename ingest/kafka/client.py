"""What every Kafka client of ours shares: how it reaches the cluster, and how errors are told.

The consumer takes all of `settings.extra_kafka_config`; the producer and the admin client take
only the connection part (security protocol, SASL, TLS, sockets), since librdkafka warns about
every consumer property given to a producer-type client.
"""

from __future__ import annotations

from ingest.settings import (
    REDACTED,
    Settings,
    is_secret_property,
    redact_url_credentials,
)

# Properties that say how to reach and authenticate to the cluster: they apply to every client.
_CONNECTION_PREFIXES = (
    "security.",
    "sasl.",
    "ssl.",
    "enable.ssl.",
    "enable.sasl.",
    "socket.",
    "broker.",
    "client.",
    "connections.",
    "reconnect.",
    "https.",
)


def connection_config(settings: Settings | None) -> dict[str, str]:
    """The connection properties of `settings.extra_kafka_config` (none without settings)."""
    if settings is None:
        return {}
    return {
        k: v for k, v in settings.extra_kafka_config.items() if k.startswith(_CONNECTION_PREFIXES)
    }


def scrub(text: str, settings: Settings | None, bootstrap: str | None = None) -> str:
    """`text` with every credential of `settings` (and `user:pass@` in `bootstrap`) replaced by
    `***`: librdkafka's messages may quote a configuration value, and an error line is logged
    and shown to operators."""
    if bootstrap and "@" in bootstrap:
        text = text.replace(bootstrap, redact_url_credentials(bootstrap))
        for entry in bootstrap.split(","):
            if "@" in entry:
                text = text.replace(entry.rsplit("@", 1)[0], REDACTED)
    if settings is not None:
        for key, value in settings.extra_kafka_config.items():
            if value and is_secret_property(key):
                text = text.replace(value, REDACTED)
    return text

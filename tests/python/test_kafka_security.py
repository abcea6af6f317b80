"""Security settings reach every Kafka client, and credentials never reach a log or an error:
not the SASL password, not a `user:pass@` pasted into the bootstrap string."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from ingest.kafka.client import scrub
from ingest.kafka.consumer import BrokerUnavailableError, admin_config, consume, consumer_config
from ingest.kafka.producer import producer_config
from ingest.settings import Settings

PASSWORD = "pw-Zq81!x"
USERNAME = "APIKEY6PLQ"
SECURITY_ENV = {
    "REVOPS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "REVOPS_KAFKA_SASL_MECHANISM": "PLAIN",
    "REVOPS_KAFKA_SASL_USERNAME": USERNAME,
    "REVOPS_KAFKA_SASL_PASSWORD": PASSWORD,
    "REVOPS_KAFKA_CONFIG_CLIENT_ID": "revops-test",
    "REVOPS_KAFKA_CONFIG_SESSION_TIMEOUT_MS": "6000",
}
SECURITY = {
    "security.protocol": "sasl_plaintext",
    "sasl.mechanism": "PLAIN",
    "sasl.username": USERNAME,
    "sasl.password": PASSWORD,
    "client.id": "revops-test",
}


def secure_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            **SECURITY_ENV,
            "REVOPS_WAREHOUSE": str(tmp_path / "w.duckdb"),
            "REVOPS_STAGE": str(tmp_path / "stage"),
            **env,
        }
    )


def test_security_settings_reach_every_client(tmp_path: Path) -> None:
    settings = secure_settings(tmp_path)
    consumer = consumer_config(settings, "b:9092")
    assert SECURITY.items() <= consumer.items()
    assert consumer["session.timeout.ms"] == "6000"
    # Producer-type clients take only the connection part (no consumer properties to warn on).
    for config in (admin_config(settings, "b:9092"), producer_config("b:9092", settings)):
        assert SECURITY.items() <= config.items()
        assert "session.timeout.ms" not in config
    assert "sasl.password" not in producer_config("b:9092")


def test_the_at_least_once_guarantee_cannot_be_configured_away(tmp_path: Path) -> None:
    settings = Settings(extra_kafka_config={"enable.auto.commit": "true"})
    config = consumer_config(settings, "b:9092")
    assert config["enable.auto.commit"] is False and config["enable.auto.offset.store"] is False


def test_an_unreachable_broker_names_it_without_the_credentials_in_the_bootstrap_string(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", stage_dir=tmp_path / "stage")
    with caplog.at_level(logging.DEBUG), pytest.raises(BrokerUnavailableError) as raised:
        consume(settings, ["admin.membership.v1"], "alice:hunter2@127.0.0.1:9", until_idle=True)
    assert time.monotonic() - started < 30
    message = str(raised.value)
    assert message.startswith("cannot reach Kafka at ***@127.0.0.1:9")
    assert "\n" not in message
    out, err = capfd.readouterr()
    for text in (message, caplog.text, out, err):
        assert "hunter2" not in text and "alice" not in text


def test_sasl_credentials_never_reach_logs_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = secure_settings(tmp_path)
    with caplog.at_level(logging.DEBUG), pytest.raises(BrokerUnavailableError) as raised:
        consume(settings, ["admin.membership.v1"], "127.0.0.1:9", until_idle=True)
    out, err = capfd.readouterr()
    for text in (str(raised.value), repr(raised.value), caplog.text, out, err):
        assert PASSWORD not in text and USERNAME not in text


def test_client_messages_are_scrubbed_of_configured_secrets() -> None:
    settings = Settings(extra_kafka_config={**SECURITY, "ssl.key.password": "k3y-pass"})
    text = f'Invalid value "{PASSWORD}" / user {USERNAME} / key k3y-pass at u:p@b:1'
    scrubbed = scrub(text, settings, "u:p@b:1")
    assert PASSWORD not in scrubbed and USERNAME not in scrubbed and "k3y-pass" not in scrubbed
    assert "u:p" not in scrubbed and "***@b:1" in scrubbed
    assert "client.id" not in scrubbed  # unrelated text is untouched
    assert scrub("revops-test", settings) == "revops-test"  # not a credential

"""Settings.from_env: every variable validated with one line naming it, Kafka security settings
reach the client configuration, and credentials never show in a repr or an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.settings import Settings, SettingsError, redact_url_credentials

PASSWORD = "pw-Zq81!x"
USERNAME = "APIKEY6PLQ"

SASL_ENV = {
    "REVOPS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "REVOPS_KAFKA_SASL_MECHANISM": "plain",
    "REVOPS_KAFKA_SASL_USERNAME": USERNAME,
    "REVOPS_KAFKA_SASL_PASSWORD": PASSWORD,
}


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.log_level, settings.log_format) == ("INFO", "text")
    assert settings.extra_kafka_config == {}


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "REVOPS_WAREHOUSE": "/data/w.duckdb",
            "REVOPS_STAGE": "/data/stage",
            "REVOPS_KAFKA_BOOTSTRAP": "b1:9092,b2:9092",
            "REVOPS_CONSUMER_GROUP": "g",
            "REVOPS_BATCH_MAX_MESSAGES": "1000",
            "REVOPS_BATCH_MAX_SECONDS": "2.5",
            "REVOPS_DBT_TARGET": "snowflake",
            "REVOPS_DBT_TARGET_PATH": "/tmp/t",
            "REVOPS_LOG_LEVEL": "debug",
            "REVOPS_LOG_FORMAT": "JSON",
            "REVOPS_DUCKDB_MEMORY_LIMIT": "6GB",
        }
    )
    assert settings.warehouse_path == Path("/data/w.duckdb")
    assert settings.stage_dir == Path("/data/stage")
    assert settings.kafka_bootstrap == "b1:9092,b2:9092"
    assert settings.consumer_group == "g"
    assert (settings.batch_max_messages, settings.batch_max_seconds) == (1000, 2.5)
    assert settings.dbt_target == "snowflake"
    assert settings.dbt_target_path == Path("/tmp/t")
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.duckdb_memory_limit == "6GB"


def test_optional_variables_set_empty_keep_their_default() -> None:
    settings = Settings.from_env(
        {"REVOPS_KAFKA_BOOTSTRAP": "", "REVOPS_DBT_TARGET": " ", "REVOPS_DBT_TARGET_PATH": ""}
    )
    assert (settings.kafka_bootstrap, settings.dbt_target, settings.dbt_target_path) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REVOPS_BATCH_MAX_MESSAGES", "lots", "REVOPS_BATCH_MAX_MESSAGES must be a positive"),
        ("REVOPS_BATCH_MAX_MESSAGES", "0", "not '0'"),
        ("REVOPS_BATCH_MAX_MESSAGES", "-5", "not '-5'"),
        ("REVOPS_BATCH_MAX_MESSAGES", "1.5", "not '1.5'"),
        ("REVOPS_BATCH_MAX_SECONDS", "soon", "REVOPS_BATCH_MAX_SECONDS must be a positive"),
        ("REVOPS_BATCH_MAX_SECONDS", "0", "not '0'"),
        ("REVOPS_BATCH_MAX_SECONDS", "nan", "not 'nan'"),
        ("REVOPS_BATCH_MAX_SECONDS", "inf", "not 'inf'"),
        ("REVOPS_WAREHOUSE", "", "REVOPS_WAREHOUSE is set but empty"),
        ("REVOPS_STAGE", "  ", "REVOPS_STAGE is set but empty"),
        ("REVOPS_CONSUMER_GROUP", "", "REVOPS_CONSUMER_GROUP is set but empty"),
        ("REVOPS_LOG_LEVEL", "verbose", "REVOPS_LOG_LEVEL must be one of DEBUG, INFO"),
        ("REVOPS_LOG_FORMAT", "xml", "REVOPS_LOG_FORMAT must be one of text, json, not 'xml'"),
        ("REVOPS_KAFKA_SECURITY_PROTOCOL", "tls", "REVOPS_KAFKA_SECURITY_PROTOCOL must be one"),
        ("REVOPS_KAFKA_SASL_MECHANISM", "SCRAM", "REVOPS_KAFKA_SASL_MECHANISM must be one of"),
        ("REVOPS_KAFKA_SSL_CA_LOCATION", "/no/such/ca.pem", "no such CA file: /no/such/ca.pem"),
        ("REVOPS_KAFKA_SASL_USERNAME", USERNAME, "REVOPS_KAFKA_SASL_PASSWORD is not"),
        ("REVOPS_KAFKA_SASL_PASSWORD", PASSWORD, "REVOPS_KAFKA_SASL_USERNAME is not"),
        ("REVOPS_KAFKA_CONFIG_", "x", "REVOPS_KAFKA_CONFIG_ does not name a Kafka property"),
        ("REVOPS_KAFKA_CONFIG_SSL__KEY", "x", "does not name a Kafka property"),
        ("REVOPS_KAFKA_CONFIG_CLIENT_ID", "", "REVOPS_KAFKA_CONFIG_CLIENT_ID is set but empty"),
        ("REVOPS_KAFKA_CONFIG_ENABLE_AUTO_COMMIT", "true", "enable.auto.commit cannot be set"),
        ("REVOPS_KAFKA_CONFIG_GROUP_ID", "g", "set REVOPS_CONSUMER_GROUP instead"),
        ("REVOPS_KAFKA_CONFIG_BOOTSTRAP_SERVERS", "b:1", "set REVOPS_KAFKA_BOOTSTRAP instead"),
        ("REVOPS_DUCKDB_MEMORY_LIMIT", "lots", "must be a size such as 12GB"),
        ("REVOPS_DUCKDB_MEMORY_LIMIT", "12GB'; drop table x", 'not "12GB\'; drop table x"'),
        ("REVOPS_DUCKDB_MEMORY_LIMIT", "", "REVOPS_DUCKDB_MEMORY_LIMIT is set but empty"),
    ],
)
def test_a_bad_variable_is_one_line_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    text = str(raised.value)
    assert message in text
    assert name in text
    assert "\n" not in text
    assert PASSWORD not in text and USERNAME not in text


def test_sasl_and_tls_variables_become_client_properties(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env(
        {
            **SASL_ENV,
            "REVOPS_KAFKA_SSL_CA_LOCATION": str(ca),
            "REVOPS_KAFKA_CONFIG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "https",
            "REVOPS_KAFKA_CONFIG_CLIENT_ID": "revops-ingest",
        }
    )
    assert settings.extra_kafka_config == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "PLAIN",
        "sasl.username": USERNAME,
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(ca),
        "ssl.endpoint.identification.algorithm": "https",
        "client.id": "revops-ingest",
    }


def test_the_system_ca_store_is_accepted() -> None:
    settings = Settings.from_env({"REVOPS_KAFKA_SSL_CA_LOCATION": "probe"})
    assert settings.extra_kafka_config == {"ssl.ca.location": "probe"}


def test_a_property_set_twice_is_refused_without_echoing_it() -> None:
    env = {**SASL_ENV, "REVOPS_KAFKA_CONFIG_SASL_PASSWORD": "other-" + PASSWORD}
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    text = str(raised.value)
    assert "REVOPS_KAFKA_CONFIG_SASL_PASSWORD" in text and "REVOPS_KAFKA_SASL_PASSWORD" in text
    assert PASSWORD not in text


def test_the_repr_never_shows_credentials() -> None:
    settings = Settings.from_env(
        {
            **SASL_ENV,
            "REVOPS_KAFKA_CONFIG_SSL_KEY_PASSWORD": "keypass-77",
            "REVOPS_KAFKA_CONFIG_SASL_OAUTHBEARER_CLIENT_SECRET": "oauth-secret-9",
            "REVOPS_KAFKA_BOOTSTRAP": "alice:hunter2@broker:9092",
        }
    )
    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        for secret in (PASSWORD, USERNAME, "keypass-77", "oauth-secret-9", "hunter2", "alice"):
            assert secret not in text
        assert "sasl.password" in text and "'***'" in text
        assert "sasl_ssl" in text  # what is not a credential stays visible
        assert "***@broker:9092" in text


def test_url_credentials_are_redacted_from_bootstrap_strings() -> None:
    assert redact_url_credentials("u:p@b1:9092,b2:9092") == "***@b1:9092,b2:9092"
    assert redact_url_credentials("sasl_ssl://u:p@b1:9092") == "sasl_ssl://***@b1:9092"
    assert redact_url_credentials("u:p://x@b1:9092") == "***@b1:9092"
    assert redact_url_credentials("b1:9092") == "b1:9092"


def test_the_memory_limit_reaches_the_extractors_and_dbt(tmp_path: Path) -> None:
    """One limit for every DuckDB instance on the warehouse file: the extractors' connection
    and dbt's profile (DuckDB's own default is 80% of RAM per instance)."""
    from ingest.dbt_runner import dbt_env
    from ingest.warehouse import DuckDBWarehouse

    settings = Settings.from_env(
        {"REVOPS_WAREHOUSE": str(tmp_path / "w.duckdb"), "REVOPS_DUCKDB_MEMORY_LIMIT": "700MiB"}
    )
    assert dbt_env(settings)["REVOPS_DUCKDB_MEMORY_LIMIT"] == "700MiB"
    with DuckDBWarehouse.open(settings) as wh:
        (limit,) = wh.con.execute("select current_setting('memory_limit')").fetchone()
    assert limit == "700.0 MiB"

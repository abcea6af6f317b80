"""One settings object for every extractor and command, read from the environment.

Nothing in `ingest/` reads `os.environ` directly: tests and the Airflow DAGs build a `Settings`
with explicit values, the CLI builds it from the environment once. `from_env` validates every
variable it reads and raises `SettingsError` with one line naming the variable, so a typo is an
operator error (exit 2), not a traceback; a secret's value is never repeated in that line.

Kafka client configuration for a SASL/TLS cluster (Confluent Cloud, MSK) comes from:

| variable | client property |
| --- | --- |
| `REVOPS_KAFKA_SECURITY_PROTOCOL` | `security.protocol`: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL |
| `REVOPS_KAFKA_SASL_MECHANISM` | `sasl.mechanism`: PLAIN, SCRAM-SHA-256/512, GSSAPI, OAUTHBEARER |
| `REVOPS_KAFKA_SASL_USERNAME` | `sasl.username` |
| `REVOPS_KAFKA_SASL_PASSWORD` | `sasl.password` |
| `REVOPS_KAFKA_SSL_CA_LOCATION` | `ssl.ca.location`: a CA file, or `probe` for the system's |
| `REVOPS_KAFKA_CONFIG_<KEY>` | any other librdkafka property: `<KEY>` lowercased, `_` → `.` |

so `REVOPS_KAFKA_CONFIG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=https` sets
`ssl.endpoint.identification.algorithm`. (A property whose name has an underscore, such as
`log_level`, cannot be spelled this way; the few that matter are set in code.) The properties
that carry the consumer's guarantees (`enable.auto.commit`, ...) or have their own variable
(`bootstrap.servers`, `group.id`) are refused.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TypeVar

PROJECT_DIR = Path(__file__).resolve().parent.parent
T = TypeVar("T", int, float)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
SECURITY_PROTOCOLS = ("plaintext", "ssl", "sasl_plaintext", "sasl_ssl")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")

KAFKA_CONFIG_PREFIX = "REVOPS_KAFKA_CONFIG_"
# Named variables for the client properties every production cluster needs.
_KAFKA_VARIABLES = {
    "REVOPS_KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "REVOPS_KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "REVOPS_KAFKA_SASL_USERNAME": "sasl.username",
    "REVOPS_KAFKA_SASL_PASSWORD": "sasl.password",
    "REVOPS_KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
}
# Properties the environment may not set: they carry the at-least-once guarantee (offsets are
# committed only after the raw load) or have a variable of their own.
_RESERVED_KAFKA_PROPERTIES = {
    "bootstrap.servers": "set REVOPS_KAFKA_BOOTSTRAP instead",
    "group.id": "set REVOPS_CONSUMER_GROUP instead",
    "enable.auto.commit": "offsets are committed only after the raw load",
    "enable.auto.offset.store": "offsets are committed only after the raw load",
}
# A property whose value must never be shown: passwords, keys, tokens, and the SASL user name
# (on Confluent Cloud it is the API key).
_SECRET_MARKERS = (
    "password",
    "secret",
    "token",
    "username",
    "jaas",
    "oauthbearer.config",
    "ssl.key",
)
REDACTED = "***"
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+._-]*://")


class SettingsError(ValueError):
    """A bad environment variable: one line naming it (and the value, unless it is a secret)."""


def is_secret_property(key: str) -> bool:
    """Whether a Kafka client property holds a credential (its value is never logged)."""
    key = key.lower()
    return any(marker in key for marker in _SECRET_MARKERS)


def redact_kafka_config(config: Mapping[str, object]) -> dict[str, object]:
    """`config` with every credential's value replaced by `***` (for reprs and logs)."""
    return {k: REDACTED if is_secret_property(k) else v for k, v in config.items()}


def redact_url_credentials(servers: str) -> str:
    """`servers` with any `user:password@` in front of a host replaced by `***@`: a pasted URL
    must not carry its credentials into a log line or an error message."""

    def redact(entry: str) -> str:
        if "@" not in entry:
            return entry
        scheme = _URL_SCHEME.match(entry)
        prefix = scheme.group(0) if scheme else ""
        return f"{prefix}{REDACTED}@{entry.rsplit('@', 1)[1]}"

    return ",".join(redact(entry) for entry in servers.split(","))


@dataclass(frozen=True)
class Settings:
    """Where the warehouse and stage live, how batches are cut, how clients reach Kafka."""

    warehouse_path: Path = Path("warehouse/revops.duckdb")
    stage_dir: Path = Path("warehouse/stage")
    kafka_bootstrap: str | None = None
    consumer_group: str = "revops-ingest"
    # A batch is flushed to the stage when it reaches either bound.
    batch_max_messages: int = 200_000
    batch_max_seconds: float = 5.0
    dbt_project_dir: Path = PROJECT_DIR
    dbt_profiles_dir: Path = PROJECT_DIR / "profiles"
    dbt_target: str | None = None
    # Where dbt writes target/ and logs/ (default: the project's). Runs that may overlap — tests,
    # benchmarks, scheduler tasks — each get their own so artifacts never clobber each other.
    dbt_target_path: Path | None = None
    # librdkafka properties added to every client (security, SASL, TLS, tuning). They may hold
    # credentials, so the repr redacts them (see `__repr__`).
    extra_kafka_config: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"  # DEBUG | INFO | WARNING | ERROR
    log_format: str = "text"  # text | json (one object per line, for log shippers)

    def __repr__(self) -> str:
        """The dataclass repr, except that credentials never show: a Settings object printed in
        a log line, a traceback or a debugger must not leak a SASL password."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra_kafka_config":
                value = redact_kafka_config(value)
            elif f.name == "kafka_bootstrap" and value:
                value = redact_url_credentials(value)
            parts.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `REVOPS_*` variables; unset (or, for optional ones, empty) variables
        keep the defaults. Raises SettingsError for any value that cannot be right."""
        env = os.environ if environ is None else environ
        base = cls()
        return replace(
            base,
            warehouse_path=_path(env, "REVOPS_WAREHOUSE", base.warehouse_path),
            stage_dir=_path(env, "REVOPS_STAGE", base.stage_dir),
            kafka_bootstrap=_optional(env, "REVOPS_KAFKA_BOOTSTRAP"),
            consumer_group=_non_empty(env, "REVOPS_CONSUMER_GROUP", base.consumer_group),
            batch_max_messages=_positive_int(
                env, "REVOPS_BATCH_MAX_MESSAGES", base.batch_max_messages
            ),
            batch_max_seconds=_positive_float(
                env, "REVOPS_BATCH_MAX_SECONDS", base.batch_max_seconds
            ),
            dbt_target=_optional(env, "REVOPS_DBT_TARGET"),
            dbt_target_path=_optional_path(env, "REVOPS_DBT_TARGET_PATH"),
            extra_kafka_config=_kafka_config(env),
            log_level=_choice(env, "REVOPS_LOG_LEVEL", base.log_level, LOG_LEVELS, str.upper),
            log_format=_choice(env, "REVOPS_LOG_FORMAT", base.log_format, LOG_FORMATS, str.lower),
        )


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _non_empty(env: Mapping[str, str], name: str, default: str) -> str:
    if name not in env:
        return default
    value = env[name].strip()
    if not value:
        raise SettingsError(f"{name} is set but empty; unset it for the default ({default})")
    return value


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    return Path(_non_empty(env, name, str(default)))


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = _optional(env, name)
    return Path(value) if value else None


def _positive(
    env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], what: str
) -> T:
    """A positive, finite number from `name` (parsed by `parse`), or `default` when unset."""
    if name not in env:
        return default
    raw = env[name].strip()
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not (value > 0 and math.isfinite(value)):
        raise SettingsError(f"{name} must be {what}, not {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    return _positive(env, name, default, int, "a positive integer")


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    return _positive(env, name, default, float, "a positive number of seconds")


def _choice(
    env: Mapping[str, str],
    name: str,
    default: str,
    choices: tuple[str, ...],
    normalize: Callable[[str], str],
) -> str:
    if name not in env:
        return default
    raw = env[name].strip()
    value = normalize(raw)
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def _normalise_choice(
    config: dict[str, str],
    source: Mapping[str, str],
    key: str,
    allowed: tuple[str, ...],
    normalise: Callable[[str], str],
) -> None:
    """Check a client property against its allowed values and store it in canonical case."""
    value = config.get(key)
    if value is None:
        return
    if normalise(value) not in allowed:
        shown = ", ".join(a.upper() for a in allowed)
        raise SettingsError(f"{source[key]} must be one of {shown}, not {value!r}")
    config[key] = normalise(value)


def _kafka_config(env: Mapping[str, str]) -> dict[str, str]:
    """Client properties from the named variables and the `REVOPS_KAFKA_CONFIG_*` pass-through.
    Errors name the variable and, for anything that may be a credential, never the value."""
    config: dict[str, str] = {}
    source: dict[str, str] = {}  # property -> the variable that set it

    def put(name: str, key: str, raw: str) -> None:
        value = raw.strip()
        if not value:
            raise SettingsError(f"{name} is set but empty; unset it or give it a value")
        if key in _RESERVED_KAFKA_PROPERTIES:
            raise SettingsError(f"{name}: {key} cannot be set ({_RESERVED_KAFKA_PROPERTIES[key]})")
        if key in source:
            raise SettingsError(f"{name} and {source[key]} both set {key}; keep one of them")
        config[key], source[key] = value, name

    for name, key in _KAFKA_VARIABLES.items():
        if name in env:
            put(name, key, env[name])
    for name in sorted(env):
        if name.startswith(KAFKA_CONFIG_PREFIX):
            suffix = name[len(KAFKA_CONFIG_PREFIX) :]
            key = suffix.lower().replace("_", ".")
            if not key or not all(part for part in key.split(".")):
                raise SettingsError(
                    f"{name} does not name a Kafka property "
                    f"(e.g. {KAFKA_CONFIG_PREFIX}SSL_ENDPOINT_IDENTIFICATION_ALGORITHM)"
                )
            put(name, key, env[name])

    _normalise_choice(config, source, "security.protocol", SECURITY_PROTOCOLS, str.lower)
    _normalise_choice(config, source, "sasl.mechanism", SASL_MECHANISMS, str.upper)
    has_user, has_password = "sasl.username" in config, "sasl.password" in config
    if has_user != has_password:
        missing = "REVOPS_KAFKA_SASL_PASSWORD" if has_user else "REVOPS_KAFKA_SASL_USERNAME"
        given = source["sasl.username" if has_user else "sasl.password"]
        raise SettingsError(f"{given} is set but {missing} is not; SASL needs both")
    ca = config.get("ssl.ca.location")
    if ca is not None and ca != "probe" and not Path(ca).is_file():
        raise SettingsError(f"{source['ssl.ca.location']}: no such CA file: {ca}")
    return config

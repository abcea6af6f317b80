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

The target (`REVOPS_DBT_TARGET`, or `--target`: `duckdb` by default, `snowflake`, `fakesnow`)
chooses both dbt's profile target and the raw-layer writer. A Snowflake target connects with
`SNOWFLAKE_ACCOUNT`, `SNOWFLAKE_USER`, key-pair auth from `SNOWFLAKE_PRIVATE_KEY_PATH` (+
`SNOWFLAKE_PRIVATE_KEY_PASSPHRASE`) or else `SNOWFLAKE_PASSWORD`, `SNOWFLAKE_ROLE`,
`SNOWFLAKE_WAREHOUSE`, `SNOWFLAKE_DATABASE` (default `REVOPS`), and for a local server (fakesnow)
`SNOWFLAKE_HOST`, `SNOWFLAKE_PORT`, `SNOWFLAKE_PROTOCOL`; `REVOPS_SNOWFLAKE_TIMEOUT_SECONDS`
bounds the connector's login and network waits (CI sets it low).
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


TARGETS = ("duckdb", "snowflake", "fakesnow")
SNOWFLAKE_TARGETS = ("snowflake", "fakesnow")
SNOWFLAKE_PROTOCOLS = ("http", "https")
# A local fakesnow server (`python -m fakesnow -s -p PORT`) accepts any account and credentials.
FAKESNOW_DEFAULTS = {
    "account": "fakesnow",
    "user": "fake",
    "password": "fake",
    "host": "localhost",
    "port": 8085,
    "protocol": "http",
}


_SNOWFLAKE_SECRETS = ("password", "private_key_passphrase")


class SettingsError(ValueError):
    """A bad environment variable: one line naming it (and the value, unless it is a secret)."""


@dataclass(frozen=True)
class SnowflakeSettings:
    """How the raw-layer writer reaches Snowflake (or a local fakesnow server). Everything is
    optional here; `connect_kwargs` says what a given target still lacks."""

    account: str | None = None
    user: str | None = None
    password: str | None = None
    private_key_path: Path | None = None
    private_key_passphrase: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str = "REVOPS"
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    # Bounds the connector's login, network and socket waits (None: the connector's defaults).
    timeout_s: float | None = None

    def __repr__(self) -> str:
        shown = {
            f.name: REDACTED if f.name in _SNOWFLAKE_SECRETS and getattr(self, f.name) else v
            for f in fields(self)
            if (v := getattr(self, f.name)) is not None
        }
        return f"SnowflakeSettings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SnowflakeSettings:
        port = _optional(env, "SNOWFLAKE_PORT")
        if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
            raise SettingsError(f"SNOWFLAKE_PORT must be a TCP port (1-65535), not {port!r}")
        protocol = _optional(env, "SNOWFLAKE_PROTOCOL")
        if protocol is not None and protocol.lower() not in SNOWFLAKE_PROTOCOLS:
            raise SettingsError(f"SNOWFLAKE_PROTOCOL must be http or https, not {protocol!r}")
        key_path = _optional_path(env, "SNOWFLAKE_PRIVATE_KEY_PATH")
        if key_path is not None and not key_path.is_file():
            raise SettingsError(f"SNOWFLAKE_PRIVATE_KEY_PATH: no such key file: {key_path}")
        timeout = (
            _positive_float(env, "REVOPS_SNOWFLAKE_TIMEOUT_SECONDS", 0.0)
            if _optional(env, "REVOPS_SNOWFLAKE_TIMEOUT_SECONDS")
            else None
        )
        return cls(
            account=_optional(env, "SNOWFLAKE_ACCOUNT"),
            user=_optional(env, "SNOWFLAKE_USER"),
            password=_optional(env, "SNOWFLAKE_PASSWORD"),
            private_key_path=key_path,
            private_key_passphrase=_optional(env, "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"),
            role=_optional(env, "SNOWFLAKE_ROLE"),
            warehouse=_optional(env, "SNOWFLAKE_WAREHOUSE"),
            database=_optional(env, "SNOWFLAKE_DATABASE") or cls.database,
            host=_optional(env, "SNOWFLAKE_HOST"),
            port=int(port) if port else None,
            protocol=protocol.lower() if protocol else None,
            timeout_s=timeout,
        )

    def check(self, target: str) -> None:
        """Raise SettingsError naming the first variable `target` needs but lacks."""
        if target != "snowflake":
            return  # fakesnow has a default for everything
        for name, value in (("SNOWFLAKE_ACCOUNT", self.account), ("SNOWFLAKE_USER", self.user)):
            if not value:
                raise SettingsError(f"{name} is not set; the snowflake target needs it")
        if not self.private_key_path and not self.password:
            raise SettingsError(
                "neither SNOWFLAKE_PRIVATE_KEY_PATH nor SNOWFLAKE_PASSWORD is set; the snowflake "
                "target needs one of them (key-pair auth is preferred)"
            )

    def connect_kwargs(self, target: str) -> dict[str, object]:
        """Keyword arguments for `snowflake.connector.connect` (secrets included: never log
        them). Key-pair auth when a key is configured, else the password."""
        self.check(target)
        defaults: dict[str, object] = FAKESNOW_DEFAULTS if target == "fakesnow" else {}
        kwargs: dict[str, object] = {
            "account": self.account or defaults.get("account"),
            "user": self.user or defaults.get("user"),
            "database": self.database,
            "application": "revops-ingest",
        }
        if self.private_key_path:
            kwargs["private_key"] = _private_key_der(
                self.private_key_path, self.private_key_passphrase
            )
        else:
            kwargs["password"] = self.password or defaults.get("password")
        optional = {
            "role": self.role,
            "warehouse": self.warehouse,
            "host": self.host or defaults.get("host"),
            "port": self.port or defaults.get("port"),
            "protocol": self.protocol or defaults.get("protocol"),
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if self.timeout_s is not None:
            seconds = max(1, math.ceil(self.timeout_s))
            kwargs.update(login_timeout=seconds, network_timeout=seconds, socket_timeout=seconds)
        return kwargs


def _private_key_der(path: Path, passphrase: str | None) -> bytes:
    """The PEM private key at `path` as the DER/PKCS#8 bytes the connector takes. A wrong
    passphrase or a file that is not a key is an operator error naming the variable."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=passphrase.encode() if passphrase else None
        )
    except OSError as exc:
        raise SettingsError(
            f"SNOWFLAKE_PRIVATE_KEY_PATH: cannot read {path}: {exc.strerror or exc}"
        ) from None
    except (ValueError, TypeError) as exc:
        hint = (
            "wrong SNOWFLAKE_PRIVATE_KEY_PASSPHRASE?"
            if passphrase
            else "encrypted key without SNOWFLAKE_PRIVATE_KEY_PASSPHRASE?"
            if "encrypted" in str(exc).lower() or "password" in str(exc).lower()
            else "not a PEM private key?"
        )
        raise SettingsError(
            f"SNOWFLAKE_PRIVATE_KEY_PATH: cannot load the private key in {path} ({hint})"
        ) from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


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


_SALESFORCE_SECRETS = ("password", "security_token", "client_secret")


@dataclass(frozen=True)
class SalesforceSettings:
    """How the Salesforce extractor reaches the org: OAuth password grant (username, password,
    security token, client id and secret) or JWT bearer (key file, client id, username)."""

    instance_url: str | None = None
    login_url: str | None = None  # token endpoint base; None: the instance url
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    jwt_key_file: Path | None = None
    ca_bundle: Path | None = None  # None: the system's CAs (verification is never off)
    api_version: str = "60.0"
    api_budget_share: float = 0.5
    max_concurrency: int = 2
    lookback_seconds: int = 300
    max_retries: int = 5

    def __repr__(self) -> str:
        shown = {
            f.name: REDACTED if f.name in _SALESFORCE_SECRETS and getattr(self, f.name) else v
            for f in fields(self)
            if (v := getattr(self, f.name)) is not None
        }
        return f"SalesforceSettings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    __str__ = __repr__

    @property
    def token_url(self) -> str:
        base = (self.login_url or self.instance_url or "").rstrip("/")
        return f"{base}/services/oauth2/token"

    def check(self) -> None:
        """Raise SettingsError naming the first variable a sync needs but lacks."""
        if not self.instance_url:
            raise SettingsError("REVOPS_SALESFORCE_INSTANCE_URL is not set")
        if not self.client_id:
            raise SettingsError("REVOPS_SALESFORCE_CLIENT_ID is not set")
        if not self.username:
            raise SettingsError("REVOPS_SALESFORCE_USERNAME is not set")
        if self.jwt_key_file is None:
            for name, value in (
                ("REVOPS_SALESFORCE_PASSWORD", self.password),
                ("REVOPS_SALESFORCE_CLIENT_SECRET", self.client_secret),
            ):
                if not value:
                    raise SettingsError(
                        f"{name} is not set (or set REVOPS_SALESFORCE_JWT_KEY_FILE for JWT bearer)"
                    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SalesforceSettings:
        base = cls()
        urls = {}
        for name in ("REVOPS_SALESFORCE_INSTANCE_URL", "REVOPS_SALESFORCE_LOGIN_URL"):
            value = _optional(env, name)
            if value is not None and not re.match(r"https?://[^\s/@]+", value):
                raise SettingsError(f"{name} must be an https:// URL, not {value!r}")
            urls[name] = value.rstrip("/") if value else None
        key = _optional_path(env, "REVOPS_SALESFORCE_JWT_KEY_FILE")
        if key is not None and not key.is_file():
            raise SettingsError(f"REVOPS_SALESFORCE_JWT_KEY_FILE: no such key file: {key}")
        ca = _optional_path(env, "REVOPS_SALESFORCE_CA_BUNDLE")
        if ca is not None and not ca.is_file():
            raise SettingsError(f"REVOPS_SALESFORCE_CA_BUNDLE: no such CA file: {ca}")
        version = _optional(env, "REVOPS_SALESFORCE_API_VERSION") or base.api_version
        if not re.fullmatch(r"\d+\.0", version):
            raise SettingsError(
                f"REVOPS_SALESFORCE_API_VERSION must look like 60.0, not {version!r}"
            )
        share = _positive(
            env,
            "REVOPS_SALESFORCE_API_BUDGET_SHARE",
            base.api_budget_share,
            float,
            "a share of the daily API requests (0 < share <= 1)",
        )
        if share > 1:
            raise SettingsError(
                f"REVOPS_SALESFORCE_API_BUDGET_SHARE must be at most 1, not {share!r}"
            )
        retries_raw = env.get("REVOPS_SALESFORCE_MAX_RETRIES", "").strip()
        if retries_raw and not retries_raw.isdigit():
            raise SettingsError(
                f"REVOPS_SALESFORCE_MAX_RETRIES must be a non-negative integer, not {retries_raw!r}"
            )
        return cls(
            instance_url=urls["REVOPS_SALESFORCE_INSTANCE_URL"],
            login_url=urls["REVOPS_SALESFORCE_LOGIN_URL"],
            username=_optional(env, "REVOPS_SALESFORCE_USERNAME"),
            password=_optional(env, "REVOPS_SALESFORCE_PASSWORD"),
            security_token=_optional(env, "REVOPS_SALESFORCE_SECURITY_TOKEN"),
            client_id=_optional(env, "REVOPS_SALESFORCE_CLIENT_ID"),
            client_secret=_optional(env, "REVOPS_SALESFORCE_CLIENT_SECRET"),
            jwt_key_file=key,
            ca_bundle=ca,
            api_version=version,
            api_budget_share=share,
            max_concurrency=_positive_int(
                env, "REVOPS_SALESFORCE_MAX_CONCURRENCY", base.max_concurrency
            ),
            lookback_seconds=_positive_int(
                env, "REVOPS_SALESFORCE_LOOKBACK_SECONDS", base.lookback_seconds
            ),
            max_retries=int(retries_raw) if retries_raw else base.max_retries,
        )


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
    # duckdb (None: the default), snowflake or fakesnow: dbt's target and the raw-layer writer.
    dbt_target: str | None = None
    # Where dbt writes target/ and logs/ (default: the project's). Runs that may overlap — tests,
    # benchmarks, scheduler tasks — each get their own so artifacts never clobber each other.
    dbt_target_path: Path | None = None
    # librdkafka properties added to every client (security, SASL, TLS, tuning). They may hold
    # credentials, so the repr redacts them (see `__repr__`).
    extra_kafka_config: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"  # DEBUG | INFO | WARNING | ERROR
    log_format: str = "text"  # text | json (one object per line, for log shippers)
    snowflake: SnowflakeSettings = field(default_factory=SnowflakeSettings)
    salesforce: SalesforceSettings = field(default_factory=SalesforceSettings)
    # DuckDB's memory_limit for every connection to the warehouse file, dbt's (profiles.yml)
    # and the extractors' alike: DuckDB's own default is 80% of RAM per connection, and beyond
    # the limit it spills to `<warehouse>.tmp` instead of growing.
    duckdb_memory_limit: str = "12GB"

    @property
    def warehouse_target(self) -> str:
        return self.dbt_target or "duckdb"

    def with_target(self, target: str | None) -> Settings:
        """These settings for `target` (a `--target` flag; None keeps the configured one),
        checked: a Snowflake target without its connection variables is an operator error.
        (`from_env` checks each variable; which ones a target needs is checked here, once the
        target is known, and again when the warehouse connects.)"""
        settings = replace(self, dbt_target=target) if target else self
        _check_target(settings)
        return settings

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
            dbt_target=_target(env, "REVOPS_DBT_TARGET"),
            dbt_target_path=_optional_path(env, "REVOPS_DBT_TARGET_PATH"),
            extra_kafka_config=_kafka_config(env),
            log_level=_choice(env, "REVOPS_LOG_LEVEL", base.log_level, LOG_LEVELS, str.upper),
            log_format=_choice(env, "REVOPS_LOG_FORMAT", base.log_format, LOG_FORMATS, str.lower),
            snowflake=SnowflakeSettings.from_env(env),
            salesforce=SalesforceSettings.from_env(env),
            duckdb_memory_limit=_memory_size(
                env, "REVOPS_DUCKDB_MEMORY_LIMIT", base.duckdb_memory_limit
            ),
        )


def _target(env: Mapping[str, str], name: str) -> str | None:
    value = _optional(env, name)
    if value is not None and value.lower() not in TARGETS:
        raise SettingsError(f"{name} must be one of {', '.join(TARGETS)}, not {value!r}")
    return value.lower() if value else None


def _check_target(settings: Settings) -> None:
    if settings.warehouse_target in SNOWFLAKE_TARGETS:
        settings.snowflake.check(settings.warehouse_target)


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


MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _memory_size(env: Mapping[str, str], name: str, default: str) -> str:
    value = _non_empty(env, name, default)
    if not MEMORY_SIZE.fullmatch(value):
        raise SettingsError(f"{name} must be a size such as 12GB or 800MiB, not {value!r}")
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

"""A deterministic synthetic Salesforce org kept in an in-memory DuckDB database.

`Org(scale, seed, okta_users=None)` builds the same records for the same arguments. Each object
is one table (`id`, `n` insertion index, `modstamp`, `is_deleted`, `deleted_date`, `rec` JSON in
REST shape with datetimes stored as `...000Z`), so the medium scale (millions of rows) does not
live in Python dicts. Changes (`advance`), schema drift, throttles and CDC events are driven
from here; the HTTPS server (`server.py`) only translates requests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from ingest.salesforce.emulator.soql import Soql, SoqlError, parse_soql

HISTORY_END = datetime(2026, 10, 31, tzinfo=UTC)
DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
DELETED_RETENTION = timedelta(days=15)
API_VERSION = "60.0"

SCALES: dict[str, dict[str, int]] = {
    "tiny": {"users": 40, "opportunities": 300, "activities": 1_000},
    "small": {"users": 400, "opportunities": 3_000, "activities": 10_000},
    "medium": {"users": 4_000, "opportunities": 1_000_000, "activities": 10_000_000},
}

PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "OpportunityLineItem": "00k",
    "User": "005",
    "Task": "00T",
    "Event": "00U",
}
SOBJECTS = tuple(PREFIXES)
CDC_OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "OpportunityLineItem", "User")
COMPOUND_NAME = ("Contact", "Lead", "User")

STAGES = [
    ("Prospecting", 10, "Pipeline"),
    ("Qualification", 20, "Pipeline"),
    ("Needs Analysis", 20, "Pipeline"),
    ("Value Proposition", 50, "Pipeline"),
    ("Id. Decision Makers", 60, "Pipeline"),
    ("Perception Analysis", 70, "Best Case"),
    ("Proposal/Price Quote", 75, "Best Case"),
    ("Negotiation/Review", 90, "Commit"),
    ("Closed Won", 100, "Closed"),
    ("Closed Lost", 0, "Omitted"),
]
STAGE_INFO = {name: (prob, cat) for name, prob, cat in STAGES}
DEAL_KINDS = ["Seats", "Expansion", "Renewal", "Pilot"]
OPEN_STAGES = [s[0] for s in STAGES[:-2]]
FIRST_NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Emma",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kira",
    "Leo",
    "Maya",
    "Noah",
    "Olga",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vik",
    "Wren",
    "Xavi",
    "Yara",
    "Zoe",
    "Amir",
    "Bea",
    "Cruz",
    "Dara",
]
LAST_NAMES = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Meyer",
    "Novak",
    "Ortiz",
    "Patel",
    "Quist",
    "Rossi",
    "Silva",
    "Tanaka",
    "Urban",
    "Vogel",
    "Walsh",
    "Xu",
    "Young",
    "Zhang",
]
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Aperture",
    "Massive",
    "Dynamic",
    "Oscorp",
    "Pied",
    "Piper",
    "Gringotts",
    "Monarch",
    "Nakatomi",
]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
OPP_TYPES = ["New Customer", "Existing Customer - Upgrade", "Existing Customer - Renewal"]
ACCOUNT_TYPES = ["Prospect", "Customer - Direct", "Customer - Channel", "Partner"]
INDUSTRIES = ["Technology", "Finance", "Healthcare", "Retail", "Manufacturing", "Education"]
LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted"]
TASK_STATUSES = ["Not Started", "In Progress", "Completed", "Deferred"]
PRODUCTS = [f"01t5g00000{i:05d}AAA" for i in range(12)]


class OrgError(Exception):
    """A request the org refuses: `status`, `error_code` and message in Salesforce's shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> list[dict]:
        return [{"message": self.message, "errorCode": self.error_code}]


# -- ids and time -------------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf_id(prefix: str, n: int) -> str:
    """The `n`-th 18-character id of a key prefix (15 characters plus the case checksum)."""
    digits = ""
    while True:
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
        if n == 0:
            break
    base = prefix + "5g0" + digits.rjust(9, "0")
    suffix = ""
    for i in range(3):
        chunk = base[i * 5 : i * 5 + 5]
        bits = sum(1 << j for j, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _SUFFIX[bits]
    return base + suffix


def ts(value: datetime) -> str:
    """The stored / CDC / Bulk datetime form: `2026-01-01T00:00:00.000Z`."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def rest_ts(value: str) -> str:
    """REST API datetime form (`2026-01-01T00:00:00.000+0000`) of a stored datetime."""
    return value[:-1] + "+0000" if value.endswith("Z") else value


def parse_ts(value: str) -> datetime:
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch_ms(value: str) -> int:
    return int(parse_ts(value).timestamp() * 1000)


# -- schema ---------------------------------------------------------------------------------------


@dataclass
class FieldSpec:
    name: str
    type: str
    nillable: bool = True
    calculated: bool = False
    length: int = 0
    precision: int = 0
    scale: int = 0
    picklist: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        values = [{"value": v, "active": True, "label": v} for v in self.picklist]
        values += [{"value": v, "active": False, "label": v} for v in self.inactive]
        return {
            "name": self.name,
            "label": self.name.replace("__c", "").replace("_", " "),
            "type": self.type,
            "nillable": self.nillable,
            "calculated": self.calculated,
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "picklistValues": values,
            "custom": self.name.endswith("__c"),
            "updateable": not self.calculated and self.type != "id",
        }


def _f(name: str, type_: str, **kw: object) -> FieldSpec:
    defaults = {
        "string": {"length": 255},
        "textarea": {"length": 32000},
        "email": {"length": 80},
        "phone": {"length": 40},
        "id": {"length": 18, "nillable": False},
        "reference": {"length": 18},
        "picklist": {"length": 255},
        "currency": {"precision": 18, "scale": 2},
        "double": {"precision": 18, "scale": 2},
        "percent": {"precision": 3, "scale": 0},
        "int": {"precision": 9},
        "boolean": {"nillable": False},
        "datetime": {},
        "date": {},
    }[type_]
    return FieldSpec(name, type_, **{**defaults, **kw})  # type: ignore[arg-type]


def _audit(deletable: bool = True) -> list[FieldSpec]:
    fields = [
        _f("Id", "id"),
        _f("CreatedDate", "datetime", nillable=False),
        _f("LastModifiedDate", "datetime", nillable=False),
        _f("SystemModstamp", "datetime", nillable=False),
    ]
    if deletable:
        fields.append(_f("IsDeleted", "boolean"))
    return fields


def base_schema() -> dict[str, dict[str, FieldSpec]]:
    p = _f
    schema = {
        "Account": [
            *_audit(),
            p("Name", "string", nillable=False),
            p("OwnerId", "reference", nillable=False),
            p("Type", "picklist", picklist=ACCOUNT_TYPES),
            p("Industry", "picklist", picklist=INDUSTRIES),
            p("AnnualRevenue", "currency"),
            p("NumberOfEmployees", "int"),
            p("Phone", "phone"),
            p("Description", "textarea"),
        ],
        "Contact": [
            *_audit(),
            p("AccountId", "reference"),
            p("OwnerId", "reference", nillable=False),
            p("FirstName", "string", length=40),
            p("LastName", "string", length=80, nillable=False),
            p("Name", "string", length=121, nillable=False),
            p("Email", "email"),
            p("Phone", "phone"),
            p("Title", "string", length=128),
            p("LeadSource", "picklist", picklist=LEAD_SOURCES),
        ],
        "Lead": [
            *_audit(),
            p("OwnerId", "reference", nillable=False),
            p("FirstName", "string", length=40),
            p("LastName", "string", length=80, nillable=False),
            p("Name", "string", length=121, nillable=False),
            p("Email", "email"),
            p("Phone", "phone"),
            p("Company", "string", nillable=False),
            p("Status", "picklist", picklist=LEAD_STATUSES, nillable=False),
            p("LeadSource", "picklist", picklist=LEAD_SOURCES),
            p("IsConverted", "boolean"),
        ],
        "Opportunity": [
            *_audit(),
            p("Name", "string", length=120, nillable=False),
            p("AccountId", "reference"),
            p("OwnerId", "reference", nillable=False),
            p("StageName", "picklist", picklist=[s[0] for s in STAGES], nillable=False),
            p("Amount", "currency"),
            p("CloseDate", "date", nillable=False),
            p("IsClosed", "boolean", calculated=True),
            p("IsWon", "boolean", calculated=True),
            p("Probability", "percent"),
            p("ExpectedRevenue", "currency", calculated=True),
            p("ForecastCategoryName", "picklist", picklist=sorted({s[2] for s in STAGES})),
            p("Type", "picklist", picklist=OPP_TYPES),
            p("LeadSource", "picklist", picklist=LEAD_SOURCES),
            p("Forecast_Notes__c", "textarea", length=1000),
        ],
        "OpportunityLineItem": [
            *_audit(),
            p("OpportunityId", "reference", nillable=False),
            p("Product2Id", "reference"),
            p("Name", "string", length=376, calculated=True),
            p("Quantity", "double", nillable=False),
            p("UnitPrice", "currency"),
            p("TotalPrice", "currency"),
        ],
        "User": [
            *_audit(deletable=False),
            p("Username", "string", length=80, nillable=False),
            p("Email", "email", nillable=False),
            p("FirstName", "string", length=40),
            p("LastName", "string", length=80, nillable=False),
            p("Name", "string", length=121, nillable=False),
            p("IsActive", "boolean"),
            p("FederationIdentifier", "string", length=512),
            p("Title", "string", length=80),
        ],
        "Task": [
            *_audit(),
            p("Subject", "string"),
            p("WhoId", "reference"),
            p("WhatId", "reference"),
            p("OwnerId", "reference", nillable=False),
            p("ActivityDate", "date"),
            p("Status", "picklist", picklist=TASK_STATUSES, nillable=False),
            p("Priority", "picklist", picklist=["High", "Normal", "Low"], nillable=False),
            p("IsClosed", "boolean", calculated=True),
        ],
        "Event": [
            *_audit(),
            p("Subject", "string"),
            p("WhoId", "reference"),
            p("WhatId", "reference"),
            p("OwnerId", "reference", nillable=False),
            p("ActivityDate", "date"),
            p("ActivityDateTime", "datetime"),
            p("DurationInMinutes", "int"),
        ],
    }
    return {name: {f.name: f for f in fields} for name, fields in schema.items()}


def coerce(value: object, type_: str) -> object:
    """A stored value as the field's current type returns it (after a retype)."""
    if value is None:
        return None
    if type_ in ("currency", "double", "percent"):
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    if type_ == "int":
        try:
            return int(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    if type_ == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


# -- users ----------------------------------------------------------------------------------------


@dataclass
class OktaUser:
    okta_id: str
    login: str
    name: str
    created: datetime
    deactivated: datetime | None = None


def okta_users_from_company(company_dir: str | Path) -> list[OktaUser]:
    """The reps of a `revops generate` output directory, from its Okta system log."""
    root = Path(company_dir)
    paths = sorted(root.rglob("okta.system_log.v1.jsonl"))
    if not paths:
        raise FileNotFoundError(f"no okta.system_log.v1.jsonl under {root}")
    users: dict[str, OktaUser] = {}
    with open(paths[0], "rb") as fh:
        for line in fh:
            try:
                event = orjson.loads(line)
                kind = event["eventType"]
                target = event["target"][0]
                at = parse_ts(event["published"])
            except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
                continue
            okta_id = target.get("id")
            if not okta_id:
                continue
            if kind == "user.lifecycle.create" and okta_id not in users:
                login = str(target.get("alternateId") or f"{okta_id}@example.com")
                name = str(target.get("displayName") or login.split("@")[0].replace(".", " "))
                users[okta_id] = OktaUser(okta_id, login, name, at)
            elif kind == "user.lifecycle.deactivate" and okta_id in users:
                users[okta_id].deactivated = at
    return sorted(users.values(), key=lambda u: (u.created, u.okta_id))


# -- the org --------------------------------------------------------------------------------------


@dataclass
class Throttle:
    status: int = 0
    delay: float = 0.0


class _Rows:
    """A fully fetched result (DuckDB wants every result consumed before the next statement)."""

    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return self.rows


# The in-memory database spills beyond this (medium: 10M activities, 1M opportunities) instead
# of growing to DuckDB's default of 80% of RAM beside the warehouse's own DuckDB.
ORG_MEMORY_LIMIT = "3GB"


class _Db:
    def __init__(self) -> None:
        spill = Path(tempfile.gettempdir()) / f"revops-sf-org-{os.getpid()}-{id(self):x}"
        self.con = duckdb.connect(
            ":memory:", config={"memory_limit": ORG_MEMORY_LIMIT, "temp_directory": str(spill)}
        )

    def execute(self, sql: str, params: list | None = None) -> _Rows:
        result = self.con.execute(sql, params or [])
        try:
            rows = result.fetchall()
        except duckdb.InvalidInputException:
            rows = []
        return _Rows(rows)

    def register(self, name: str, table: object) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)


class Org:
    """A synthetic org. Every public method is thread-safe (one lock around the database)."""

    def __init__(
        self,
        scale: str = "tiny",
        seed: int = 7,
        okta_users: list[OktaUser] | None = None,
        now: datetime = DEFAULT_NOW,
    ) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
        self.scale = scale
        self.seed = seed
        self.sizes = SCALES[scale]
        self.lock = threading.RLock()
        self.rnd = random.Random(seed)
        self.now = now.astimezone(UTC)
        self.schema = base_schema()
        self.db = _Db()
        self.db.execute("SET threads TO 2")
        self._counters: Counter[str] = Counter()
        self._cursor_seq = 0
        self.commit_number = 1_000_000_000_000
        self.replay_ids: Counter[str] = Counter()
        self.cdc_log: list[tuple[str, bytes, bytes]] = []
        self._cdc_pending: list[tuple[str, bytes, bytes]] = []
        self.daily_max = 15_000 + 1_000 * self.sizes["users"]
        self.daily_used = 0
        self.throttles: list[Throttle] = []
        for sobject in SOBJECTS:
            self.db.execute(
                f"CREATE TABLE {self._table(sobject)} (id VARCHAR, n BIGINT, modstamp VARCHAR, "
                "is_deleted BOOLEAN, deleted_date VARCHAR, rec VARCHAR)"
            )
        self.db.execute(
            "CREATE TABLE tombstones (sobject VARCHAR, id VARCHAR, deleted_date VARCHAR)"
        )
        self._build(okta_users)

    # -- storage --------------------------------------------------------------------------------

    @staticmethod
    def _table(sobject: str) -> str:
        return "sf_" + sobject.lower()

    def _new_id(self, sobject: str) -> tuple[str, int]:
        n = self._counters[sobject]
        self._counters[sobject] += 1
        return sf_id(PREFIXES[sobject], n), n

    def _insert_many(self, sobject: str, rows: list[tuple]) -> None:
        import pyarrow as pa

        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        table = pa.table(
            {
                "id": pa.array(cols[0], pa.string()),
                "n": pa.array(cols[1], pa.int64()),
                "modstamp": pa.array(cols[2], pa.string()),
                "is_deleted": pa.array(cols[3], pa.bool_()),
                "deleted_date": pa.array(cols[4], pa.string()),
                "rec": pa.array(cols[5], pa.string()),
            }
        )
        self.db.register("_rows", table)
        try:
            self.db.execute(f"INSERT INTO {self._table(sobject)} SELECT * FROM _rows")
        finally:
            self.db.unregister("_rows")

    def _row(self, sobject: str, rec: dict, n: int, deleted_date: str | None = None) -> tuple:
        return (
            rec["Id"],
            n,
            rec["SystemModstamp"],
            bool(rec.get("IsDeleted", False)),
            deleted_date,
            orjson.dumps(rec).decode(),
        )

    def _load(self, sobject: str, record_id: str) -> tuple[dict, bool] | None:
        hit = self.db.execute(
            f"SELECT rec, is_deleted FROM {self._table(sobject)} WHERE id = ?", [record_id]
        ).fetchone()
        return (orjson.loads(hit[0]), hit[1]) if hit else None

    def _save(self, sobject: str, rec: dict, deleted_date: str | None = None) -> None:
        self.db.execute(
            f"UPDATE {self._table(sobject)} SET modstamp = ?, is_deleted = ?, deleted_date = ?, "
            "rec = ? WHERE id = ?",
            [
                rec["SystemModstamp"],
                bool(rec.get("IsDeleted", False)),
                deleted_date,
                orjson.dumps(rec).decode(),
                rec["Id"],
            ],
        )

    def _pick(self, sobject: str, deleted: bool = False) -> dict | None:
        """A deterministic random record (live, or soft-deleted with `deleted`)."""
        table = self._table(sobject)
        total = self._counters[sobject]
        if total == 0:
            return None
        start = self.rnd.randrange(total)
        for lo, hi in ((start, None), (0, start)):
            sql = f"SELECT rec FROM {table} WHERE is_deleted = ? AND n >= ?"
            params: list = [deleted, lo]
            if hi is not None:
                sql += " AND n < ?"
                params.append(hi)
            hit = self.db.execute(sql + " ORDER BY n LIMIT 1", params).fetchone()
            if hit:
                return orjson.loads(hit[0])
        return None

    # -- generation ------------------------------------------------------------------------------

    def _name(self) -> tuple[str, str]:
        return self.rnd.choice(FIRST_NAMES), self.rnd.choice(LAST_NAMES)

    def _stamp_between(self, lo: datetime, hi: datetime) -> datetime:
        if hi <= lo:
            return lo
        span = int((hi - lo).total_seconds())
        return lo + timedelta(seconds=self.rnd.randrange(max(span, 1)))

    def _build(self, okta_users: list[OktaUser] | None) -> None:
        rnd = self.rnd
        history_start = HISTORY_END - timedelta(days=730)
        if okta_users:
            history_start = min(u.created for u in okta_users)
        else:
            okta_users = []
            for i in range(self.sizes["users"]):
                first, last = self._name()
                okta_id = "00u" + hashlib.sha256(f"{self.seed}/{i}".encode()).hexdigest()[:17]
                created = history_start + timedelta(days=rnd.randrange(0, 400) if i > 5 else 0)
                gone = (
                    created + timedelta(days=rnd.randrange(200, 700))
                    if rnd.random() < 0.2
                    else None
                )
                okta_users.append(
                    OktaUser(
                        okta_id,
                        f"{first}.{last}{i}@clouddesk.example".lower(),
                        f"{first} {last}",
                        created,
                        gone,
                    )
                )
        self.history_start = history_start
        # users
        self.users: list[dict] = []
        self._user_windows: list[tuple[datetime, datetime | None, str]] = []
        rows = []
        for u in okta_users:
            uid, n = self._new_id("User")
            parts = u.name.split(" ", 1)
            first, last = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
            created = ts(u.created)
            modified = ts(u.deactivated) if u.deactivated and u.deactivated < self.now else created
            rec = {
                "Id": uid,
                "CreatedDate": created,
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
                "Username": u.login + ".sf",
                "Email": u.login,
                "FirstName": first or None,
                "LastName": last,
                "Name": u.name,
                "IsActive": not (u.deactivated and u.deactivated < self.now),
                "FederationIdentifier": u.okta_id,
                "Title": rnd.choice(
                    ["Account Executive", "SDR", "Sales Manager", "Solutions Engineer"]
                ),
            }
            self.users.append(rec)
            self._user_windows.append((u.created, u.deactivated, uid))
            rows.append(self._row("User", rec, n))
        self._insert_many("User", rows)

        n_opps = self.sizes["opportunities"]
        n_accounts = max(10, n_opps // 3)
        n_contacts = n_accounts * 2
        n_leads = max(10, n_opps // 2)
        end = min(self.now, HISTORY_END)

        def owner_at(at: datetime) -> str:
            for _ in range(8):
                start, stop, uid = rnd.choice(self._user_windows)
                if start <= at and (stop is None or stop > at):
                    return uid
            return rnd.choice(self._user_windows)[2]

        def audit(sobject: str, n: int, created: datetime, modified: datetime) -> dict:
            return {
                "Id": sf_id(PREFIXES[sobject], n),
                "CreatedDate": ts(created),
                "LastModifiedDate": ts(modified),
                "SystemModstamp": ts(modified),
                "IsDeleted": False,
            }

        def flush(sobject: str, rows: list[tuple], force: bool = False) -> list[tuple]:
            if rows and (force or len(rows) >= 200_000):
                self._insert_many(sobject, rows)
                return []
            return rows

        rows = []
        for i in range(n_accounts):
            created = self._stamp_between(history_start, end - timedelta(days=30))
            company = f"{rnd.choice(COMPANY_WORDS)} {rnd.choice(COMPANY_WORDS)} {i}"
            rec = audit("Account", i, created, self._stamp_between(created, end))
            rec.update(
                Name=company,
                OwnerId=owner_at(created),
                Type=rnd.choice(ACCOUNT_TYPES),
                Industry=rnd.choice(INDUSTRIES),
                AnnualRevenue=float(rnd.randrange(1, 500) * 100_000),
                NumberOfEmployees=rnd.randrange(5, 20_000),
                Phone=f"+1 415 555 {rnd.randrange(10_000):04d}",
                Description=None
                if rnd.random() < 0.5
                else f"{company}: {rnd.choice(INDUSTRIES)} buyer",
            )
            rows.append(self._row("Account", rec, i))
            rows = flush("Account", rows)
        flush("Account", rows, True)
        self._counters["Account"] = n_accounts

        rows = []
        for i in range(n_contacts):
            first, last = self._name()
            created = self._stamp_between(history_start, end - timedelta(days=10))
            rec = audit("Contact", i, created, self._stamp_between(created, end))
            rec.update(
                AccountId=sf_id("001", i // 2),
                OwnerId=owner_at(created),
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Email=f"{first}.{last}{i}@customer.example".lower(),
                Phone=None if rnd.random() < 0.3 else f"+1 212 555 {rnd.randrange(10_000):04d}",
                Title=rnd.choice(["CTO", "VP Engineering", "IT Director", "Buyer", None]),
                LeadSource=rnd.choice(LEAD_SOURCES),
            )
            rows.append(self._row("Contact", rec, i))
            rows = flush("Contact", rows)
        flush("Contact", rows, True)
        self._counters["Contact"] = n_contacts

        rows = []
        for i in range(n_leads):
            first, last = self._name()
            created = self._stamp_between(history_start, end)
            rec = audit("Lead", i, created, self._stamp_between(created, end))
            status = rnd.choice(LEAD_STATUSES)
            rec.update(
                OwnerId=owner_at(created),
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Email=f"{first}.{last}{i}@prospect.example".lower(),
                Phone=None if rnd.random() < 0.4 else f"+1 646 555 {rnd.randrange(10_000):04d}",
                Company=f"{rnd.choice(COMPANY_WORDS)} {i}",
                Status=status,
                LeadSource=rnd.choice(LEAD_SOURCES),
                IsConverted=status == "Closed - Converted",
            )
            rows.append(self._row("Lead", rec, i))
            rows = flush("Lead", rows)
        flush("Lead", rows, True)
        self._counters["Lead"] = n_leads

        rows, li_rows, li_n = [], [], 0
        close_hi = HISTORY_END + timedelta(days=150)
        for i in range(n_opps):
            close = self._stamp_between(history_start + timedelta(days=30), close_hi)
            created = close - timedelta(days=rnd.randrange(10, 180), seconds=rnd.randrange(86_400))
            # Nothing is created after the org's clock: an opportunity closing next quarter
            # was opened already, so its SystemModstamp is never in the future.
            created = max(created, history_start)
            if created >= end:
                created = self._stamp_between(end - timedelta(days=30), end)
            if close < self.now:
                stage = "Closed Won" if rnd.random() < 0.35 else "Closed Lost"
            else:
                stage = rnd.choice(OPEN_STAGES)
            modified = self._stamp_between(created, min(close, end))
            prob, category = STAGE_INFO[stage]
            opp_id = sf_id("006", i)
            lines = []
            for _ in range(rnd.randrange(1, 4)):
                qty = float(rnd.randrange(1, 50))
                price = float(rnd.randrange(5, 400) * 10)
                lines.append((qty, price))
            amount = round(sum(q * p for q, p in lines), 2)
            rec = audit("Opportunity", i, created, modified)
            rec.update(
                Name=f"{rnd.choice(COMPANY_WORDS)} - {rnd.choice(DEAL_KINDS)} {i}",
                AccountId=sf_id("001", rnd.randrange(n_accounts)),
                OwnerId=owner_at(close),
                StageName=stage,
                Amount=amount,
                CloseDate=close.date().isoformat(),
                IsClosed=stage.startswith("Closed"),
                IsWon=stage == "Closed Won",
                Probability=float(prob),
                ExpectedRevenue=round(amount * prob / 100, 2),
                ForecastCategoryName=category,
                Type=rnd.choice(OPP_TYPES),
                LeadSource=rnd.choice([*LEAD_SOURCES, None]),
                Forecast_Notes__c=None if rnd.random() < 0.6 else f"rep note {rnd.randrange(1000)}",
            )
            rows.append(self._row("Opportunity", rec, i))
            rows = flush("Opportunity", rows)
            for qty, price in lines:
                product = rnd.choice(PRODUCTS)
                li = audit("OpportunityLineItem", li_n, created, modified)
                li.update(
                    OpportunityId=opp_id,
                    Product2Id=product,
                    Name=f"{rec['Name']} {product[-8:-3]}",
                    Quantity=qty,
                    UnitPrice=price,
                    TotalPrice=round(qty * price, 2),
                )
                li_rows.append(self._row("OpportunityLineItem", li, li_n))
                li_rows = flush("OpportunityLineItem", li_rows)
                li_n += 1
        flush("Opportunity", rows, True)
        flush("OpportunityLineItem", li_rows, True)
        self._counters["Opportunity"] = n_opps
        self._counters["OpportunityLineItem"] = li_n

        n_acts = self.sizes["activities"]
        task_rows, event_rows, n_tasks, n_events = [], [], 0, 0
        for _ in range(n_acts):
            at = self._stamp_between(history_start, end)
            who = (
                sf_id("003", rnd.randrange(n_contacts))
                if rnd.random() < 0.7
                else sf_id("00Q", rnd.randrange(n_leads))
            )
            what = (
                sf_id("006", rnd.randrange(n_opps))
                if who.startswith("003") and rnd.random() < 0.8
                else None
            )
            if rnd.random() < 0.7:
                rec = audit("Task", n_tasks, at, self._stamp_between(at, end))
                status = rnd.choice(TASK_STATUSES)
                rec.update(
                    Subject=rnd.choice(["Call", "Email", "Send quote", "Follow up"]),
                    WhoId=who,
                    WhatId=what,
                    OwnerId=owner_at(at),
                    ActivityDate=at.date().isoformat(),
                    Status=status,
                    Priority=rnd.choice(["High", "Normal", "Normal", "Low"]),
                    IsClosed=status == "Completed",
                )
                task_rows.append(self._row("Task", rec, n_tasks))
                task_rows = flush("Task", task_rows)
                n_tasks += 1
            else:
                rec = audit("Event", n_events, at, self._stamp_between(at, end))
                start = at + timedelta(days=rnd.randrange(0, 14))
                start = start.replace(minute=0, second=0, microsecond=0)
                rec.update(
                    Subject=rnd.choice(["Demo", "Discovery call", "QBR", "Onsite"]),
                    WhoId=who,
                    WhatId=what,
                    OwnerId=owner_at(at),
                    ActivityDate=start.date().isoformat(),
                    ActivityDateTime=ts(start),
                    DurationInMinutes=rnd.choice([30, 45, 60, 90]),
                )
                event_rows.append(self._row("Event", rec, n_events))
                event_rows = flush("Event", event_rows)
                n_events += 1
        flush("Task", task_rows, True)
        flush("Event", event_rows, True)
        self._counters["Task"] = n_tasks
        self._counters["Event"] = n_events

    # -- schema ----------------------------------------------------------------------------------

    def _check_sobject(self, sobject: str) -> str:
        for name in SOBJECTS:
            if name.lower() == sobject.lower():
                return name
        raise OrgError(404, "NOT_FOUND", f"The requested resource does not exist: {sobject}")

    def describe(self, sobject: str) -> dict:
        with self.lock:
            sobject = self._check_sobject(sobject)
            return {
                "name": sobject,
                "label": sobject,
                "keyPrefix": PREFIXES[sobject],
                "custom": False,
                "queryable": True,
                "replicateable": True,
                "fields": [spec.describe() for spec in self.schema[sobject].values()],
                "urls": {"sobject": f"/services/data/v{API_VERSION}/sobjects/{sobject}"},
            }

    def add_field(
        self, sobject: str, name: str, type_: str = "string", picklist: list[str] | None = None
    ) -> None:
        """Schema drift: a new (custom) field, null on existing records."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            self.schema[sobject][name] = _f(name, type_, picklist=list(picklist or []))

    def remove_field(self, sobject: str, name: str) -> None:
        """Schema drift: the field disappears from describe, queries and records."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            if name in ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate", "IsDeleted"):
                raise ValueError(f"{name} cannot be removed")
            self.schema[sobject].pop(name, None)

    def retype_field(self, sobject: str, name: str, type_: str) -> None:
        """Schema drift: the field keeps its values, returned as the new type."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            old = self.schema[sobject][name]
            new = _f(name, type_, picklist=list(old.picklist))
            self.schema[sobject][name] = new

    def set_picklist(
        self, sobject: str, name: str, values: list[str], inactive: list[str] | None = None
    ) -> None:
        """Schema drift: a picklist's active (and inactive) values."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            spec = self.schema[sobject][name]
            spec.picklist = list(values)
            spec.inactive = list(inactive or [])

    def drift(self) -> str:
        """One deterministic random schema change; returns what it did."""
        with self.lock:
            k = self.rnd.randrange(4)
            if k == 0:
                name = f"Drift_{self.commit_number % 100_000}__c"
                self.add_field("Opportunity", name, "string")
                return f"added Opportunity.{name}"
            if k == 1:
                self.set_picklist(
                    "Opportunity",
                    "Type",
                    [*OPP_TYPES, "Partner Resell"],
                    inactive=["Existing Customer - Renewal"],
                )
                return "changed picklist Opportunity.Type"
            if k == 2 and "Description" in self.schema["Account"]:
                self.remove_field("Account", "Description")
                return "removed Account.Description"
            self.retype_field("Account", "NumberOfEmployees", "double")
            return "retyped Account.NumberOfEmployees to double"

    # -- reading ---------------------------------------------------------------------------------

    def project(
        self, sobject: str, rec: dict, fields: list[str] | None = None, rest: bool = True
    ) -> dict:
        """A stored record as the API returns it: current schema, types, REST datetimes."""
        specs = self.schema[sobject]
        names = fields if fields is not None else list(specs)
        out: dict = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{API_VERSION}/sobjects/{sobject}/{rec['Id']}",
            }
        }
        for name in names:
            spec = specs[name]
            value = coerce(rec.get(name), spec.type)
            if rest and spec.type == "datetime" and isinstance(value, str):
                value = rest_ts(value)
            out[name] = value
        return out

    def current_records(self, sobject: str, include_deleted: bool = True) -> list[dict]:
        """Ground truth: every record not hard-deleted (REST shape), ordered by Id."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            sql = f"SELECT rec FROM {self._table(sobject)}"
            if not include_deleted:
                sql += " WHERE NOT is_deleted"
            rows = self.db.execute(sql + " ORDER BY id").fetchall()
            return [self.project(sobject, orjson.loads(r[0])) for r in rows]

    def hard_deleted_ids(self, sobject: str) -> list[str]:
        """Ground truth: ids purged from the org (gone even from queryAll), sorted."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            rows = self.db.execute(
                "SELECT id FROM tombstones WHERE sobject = ? ORDER BY id", [sobject]
            ).fetchall()
            return [r[0] for r in rows]

    def count(self, sobject: str, include_deleted: bool = False) -> int:
        with self.lock:
            sobject = self._check_sobject(sobject)
            sql = f"SELECT count(*) FROM {self._table(sobject)}"
            if not include_deleted:
                sql += " WHERE NOT is_deleted"
            return int(self.db.execute(sql).fetchone()[0])

    def get_record(self, sobject: str, record_id: str, fields: list[str] | None = None) -> dict:
        with self.lock:
            sobject = self._check_sobject(sobject)
            hit = self._load(sobject, record_id)
            if hit is None or hit[1]:
                raise OrgError(404, "NOT_FOUND", "The requested resource does not exist")
            if fields:
                self._check_fields(sobject, fields)
            return self.project(sobject, hit[0], fields)

    def _check_fields(self, sobject: str, fields: list[str]) -> list[str]:
        specs = self.schema[sobject]
        out = []
        for name in fields:
            match = next((n for n in specs if n.lower() == name.lower()), None)
            if match is None:
                raise OrgError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{sobject}'. If you are attempting to "
                    "use a custom field, be sure to append the '__c' after the custom field name.",
                )
            out.append(match)
        return out

    def prepare(self, soql: str, include_deleted: bool) -> tuple[Soql, str, list]:
        """Parse and validate a query; return it with the SQL selecting its rows."""
        try:
            query = parse_soql(soql)
        except SoqlError as exc:
            raise OrgError(400, "MALFORMED_QUERY", str(exc)) from None
        query.sobject = self._check_sobject(query.sobject)
        if query.fields:
            query.fields = self._check_fields(query.sobject, query.fields)
        specs = self.schema[query.sobject]
        where, params = [], []
        if not include_deleted:
            where.append("NOT is_deleted")
        for cond in query.where:
            name = self._check_fields(query.sobject, [cond.field])[0]
            spec = specs[name]
            col = {"Id": "id", "SystemModstamp": "modstamp", "IsDeleted": "is_deleted"}.get(name)
            if col is None:
                col = (
                    f"TRY_CAST(json_extract_string(rec, '$.{name}') AS DOUBLE)"
                    if spec.type in ("currency", "double", "percent", "int")
                    else f"json_extract_string(rec, '$.{name}')"
                )
            values = [self._sql_value(v, spec.type) for v in cond.values]
            if cond.op in ("IN", "NOT IN"):
                marks = ", ".join("?" for _ in values) or "NULL"
                where.append(f"{col} {cond.op} ({marks})")
                params.extend(values)
            elif values[0] is None:
                where.append(f"{col} IS {'NOT ' if cond.op == '!=' else ''}NULL")
            else:
                where.append(f"{col} {'<>' if cond.op == '!=' else cond.op} ?")
                params.append(values[0])
        order = []
        for name, desc in query.order_by:
            name = self._check_fields(query.sobject, [name])[0]
            col = {"Id": "id", "SystemModstamp": "modstamp"}.get(
                name, f"json_extract_string(rec, '$.{name}')"
            )
            order.append(f"{col} {'DESC' if desc else 'ASC'}")
        order.append("n ASC")
        sql = f"FROM {self._table(query.sobject)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return query, sql + " ORDER BY " + ", ".join(order), params

    @staticmethod
    def _sql_value(value: object, type_: str) -> object:
        if value is None or isinstance(value, bool):
            return value
        if type_ == "datetime" and isinstance(value, str):
            try:
                return ts(parse_ts(value))
            except ValueError:
                raise OrgError(
                    400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid datetime: {value}"
                ) from None
        if type_ in ("currency", "double", "percent", "int"):
            return float(value)  # type: ignore[arg-type]
        return str(value)

    def open_cursor(self, soql: str, include_deleted: bool) -> tuple[Soql, str, int]:
        """Run a query into a snapshot table; return the query, the cursor id and the row count."""
        with self.lock:
            query, sql, params = self.prepare(soql, include_deleted)
            if query.aggregates:
                raise OrgError(400, "MALFORMED_QUERY", "aggregate queries have no cursor")
            self._cursor_seq += 1
            cursor = sf_id("01g", self._cursor_seq)
            limit = f" LIMIT {query.limit}" if query.limit is not None else ""
            self.db.execute(
                f"CREATE TABLE cur_{cursor} AS SELECT row_number() OVER () - 1 AS seq, rec "
                f"FROM (SELECT rec {sql}{limit})",
                params,
            )
            total = int(self.db.execute(f"SELECT count(*) FROM cur_{cursor}").fetchone()[0])
            return query, cursor, total

    def cursor_page(
        self, query: Soql, cursor: str, offset: int, size: int, rest: bool = True
    ) -> list[dict]:
        with self.lock:
            try:
                rows = self.db.execute(
                    f"SELECT rec FROM cur_{cursor} WHERE seq >= ? AND seq < ? ORDER BY seq",
                    [offset, offset + size],
                ).fetchall()
            except duckdb.CatalogException:
                raise OrgError(400, "INVALID_QUERY_LOCATOR", "invalid query locator") from None
            fields = query.fields or ["Id"]
            return [self.project(query.sobject, orjson.loads(r[0]), fields, rest) for r in rows]

    def close_cursor(self, cursor: str) -> None:
        with self.lock:
            self.db.execute(f"DROP TABLE IF EXISTS cur_{cursor}")

    def aggregate(self, soql: str, include_deleted: bool) -> tuple[int, list[dict]]:
        """COUNT() / SUM(f) / MIN / MAX / AVG over the matching rows: totalSize and records."""
        with self.lock:
            query, sql, params = self.prepare(soql, include_deleted)
            exprs = ["count(*)"]
            for func, name in query.aggregates:
                if func == "COUNT" and name is None:
                    continue
                name = self._check_fields(query.sobject, [name])[0]
                arg = f"TRY_CAST(json_extract_string(rec, '$.{name}') AS DOUBLE)"
                if func == "COUNT":
                    arg = f"json_extract_string(rec, '$.{name}')"
                exprs.append(f"{func.lower()}({arg})")
            sql = sql.split(" ORDER BY ")[0]
            row = self.db.execute(f"SELECT {', '.join(exprs)} {sql}", params).fetchone()
            count = int(row[0])
            if query.aggregates == [("COUNT", None)]:
                return count, []
            record: dict = {"attributes": {"type": "AggregateResult"}}
            values = iter(row[1:])
            for i, (func, name) in enumerate(query.aggregates):
                value = count if func == "COUNT" and name is None else next(values)
                if func == "COUNT" and value is not None:
                    value = int(value)
                record[f"expr{i}"] = value
            return 1, [record]

    def updated_ids(self, sobject: str, start: datetime, end: datetime) -> dict:
        with self.lock:
            sobject = self._check_sobject(sobject)
            self._check_window(start, end)
            rows = self.db.execute(
                f"SELECT id FROM {self._table(sobject)} WHERE NOT is_deleted AND modstamp >= ? "
                "AND modstamp < ? ORDER BY id",
                [ts(start), ts(end)],
            ).fetchall()
            return {
                "ids": [r[0] for r in rows],
                "latestDateCovered": rest_ts(ts(min(end, self.now))),
            }

    def deleted_ids(self, sobject: str, start: datetime, end: datetime) -> dict:
        with self.lock:
            sobject = self._check_sobject(sobject)
            self._check_window(start, end)
            earliest = self.now - DELETED_RETENTION
            lo = ts(max(start, earliest))
            rows = self.db.execute(
                f"SELECT id, deleted_date FROM {self._table(sobject)} WHERE is_deleted AND "
                "deleted_date >= ? AND deleted_date < ? UNION ALL SELECT id, deleted_date FROM "
                "tombstones WHERE sobject = ? AND deleted_date >= ? AND deleted_date < ? "
                "ORDER BY 2, 1",
                [lo, ts(end), sobject, lo, ts(end)],
            ).fetchall()
            return {
                "deletedRecords": [{"id": r[0], "deletedDate": rest_ts(r[1])} for r in rows],
                "earliestDateAvailable": rest_ts(ts(earliest)),
                "latestDateCovered": rest_ts(ts(min(end, self.now))),
            }

    @staticmethod
    def _check_window(start: datetime, end: datetime) -> None:
        if end < start:
            raise OrgError(400, "INVALID_REPLICATION_DATE", "end date must be after start date")

    # -- limits and throttles --------------------------------------------------------------------

    def throttle(self, calls: int = 1, status: int = 403, delay: float = 0.0) -> None:
        """The next `calls` API calls fail with `status` (403 REQUEST_LIMIT_EXCEEDED or 503
        SERVER_UNAVAILABLE), or with `delay` > 0, are answered `delay` seconds late."""
        if status not in (403, 503, 0):
            raise ValueError("status must be 403 or 503")
        with self.lock:
            for _ in range(calls):
                self.throttles.append(Throttle(0 if delay else status, delay))

    def set_daily_limit(self, maximum: int, remaining: int | None = None) -> None:
        with self.lock:
            self.daily_max = maximum
            self.daily_used = maximum - (remaining if remaining is not None else maximum)

    def limits(self) -> dict:
        with self.lock:
            remaining = max(self.daily_max - self.daily_used, 0)
            return {
                "DailyApiRequests": {"Max": self.daily_max, "Remaining": remaining},
                "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
                "DailyBulkV2QueryFileStorageMB": {"Max": 1_000_000, "Remaining": 1_000_000},
                "DataStorageMB": {"Max": 1_024, "Remaining": 1_000},
            }

    def admit_call(self) -> Throttle | None:
        """Account for one API call: the throttle to apply, or an OrgError when over the limit."""
        with self.lock:
            if self.throttles:
                pending = self.throttles.pop(0)
                if pending.status:
                    return pending
            else:
                pending = None
            if self.daily_used >= self.daily_max:
                raise OrgError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.daily_used += 1
            return pending

    # -- changes ---------------------------------------------------------------------------------

    def _tick(self) -> str:
        """Advance the org clock (sometimes not at all: ties on SystemModstamp happen)."""
        if self.rnd.random() >= 0.3:
            self.now += timedelta(
                seconds=self.rnd.randrange(1, 90), milliseconds=self.rnd.randrange(1000)
            )
        return ts(self.now)

    def _actor(self) -> str:
        active = [u["Id"] for u in self.users if u["IsActive"]] or [self.users[0]["Id"]]
        return self.rnd.choice(active)

    def advance(self, n_changes: int = 1) -> list[str]:
        """Apply `n_changes` deterministic random changes; return one line describing each."""
        done = []
        with self.lock:
            for _ in range(n_changes):
                done.append(self._one_change())
        return done

    def _one_change(self) -> str:
        r = self.rnd.random()
        sobject = self.rnd.choices(
            [
                "Opportunity",
                "Account",
                "Contact",
                "Lead",
                "OpportunityLineItem",
                "Task",
                "Event",
                "User",
            ],
            [40, 10, 10, 10, 8, 10, 8, 4],
        )[0]
        if sobject == "User":
            return self._update_user()
        if r < 0.55:
            return self.update_record(sobject)
        if r < 0.70:
            return self.create_record(sobject)
        if r < 0.80:
            return self.soft_delete(sobject)
        if r < 0.86:
            return self.undelete(sobject)
        if r < 0.92:
            return self.hard_delete(sobject)
        return self.mass_reassign(
            sobject if sobject not in ("OpportunityLineItem",) else "Opportunity"
        )

    def _changes_for(self, sobject: str, rec: dict) -> dict:
        rnd = self.rnd
        if sobject == "Opportunity":
            k = rnd.randrange(4)
            if k == 0 and rec.get("Amount") is not None:
                return {
                    "Amount": round(float(rec["Amount"]) * rnd.choice([0.8, 0.9, 1.1, 1.25]), 2)
                }
            if k == 1:
                stage = rnd.choice([s[0] for s in STAGES])
                prob, cat = STAGE_INFO[stage]
                out = {
                    "StageName": stage,
                    "Probability": float(prob),
                    "ForecastCategoryName": cat,
                    "IsClosed": stage.startswith("Closed"),
                    "IsWon": stage == "Closed Won",
                }
                if rec.get("Amount") is not None:
                    out["ExpectedRevenue"] = round(float(rec["Amount"]) * prob / 100, 2)
                return out
            if k == 2:
                slipped = date.fromisoformat(rec["CloseDate"]) + timedelta(
                    days=rnd.choice([7, 14, 30, 90])
                )
                return {"CloseDate": slipped.isoformat()}
            if "Forecast_Notes__c" in self.schema["Opportunity"] and rnd.random() < 0.5:
                return {
                    "Forecast_Notes__c": None
                    if rec.get("Forecast_Notes__c")
                    else "slipping, chase legal"
                }
            return {"OwnerId": self._actor()}
        if sobject == "Account":
            return rnd.choice(
                [
                    {"Type": rnd.choice(ACCOUNT_TYPES)},
                    {"AnnualRevenue": float(rnd.randrange(1, 900) * 100_000)},
                    {"OwnerId": self._actor()},
                ]
            )
        if sobject in ("Contact", "Lead"):
            if rnd.random() < 0.3:
                last = rnd.choice(LAST_NAMES)
                return {"LastName": last, "Name": f"{rec.get('FirstName') or ''} {last}".strip()}
            if sobject == "Lead" and rnd.random() < 0.5:
                status = rnd.choice(LEAD_STATUSES)
                return {"Status": status, "IsConverted": status == "Closed - Converted"}
            return {
                "Phone": None
                if rec.get("Phone") and rnd.random() < 0.3
                else f"+1 917 555 {rnd.randrange(10_000):04d}"
            }
        if sobject == "OpportunityLineItem":
            qty = float(rnd.randrange(1, 60))
            return {"Quantity": qty, "TotalPrice": round(qty * float(rec.get("UnitPrice") or 0), 2)}
        if sobject == "Task":
            status = rnd.choice(TASK_STATUSES)
            return {"Status": status, "IsClosed": status == "Completed"}
        return {"Subject": rnd.choice(["Demo", "Follow-up demo", "Exec briefing"])}

    def _apply(self, sobject: str, rec: dict, changes: dict, stamp: str) -> dict:
        changed = {k: v for k, v in changes.items() if rec.get(k) != v}
        rec.update(changed)
        rec["LastModifiedDate"] = stamp
        rec["SystemModstamp"] = stamp
        self._save(sobject, rec)
        return changed

    def update_record(
        self, sobject: str, record_id: str | None = None, changes: dict | None = None
    ) -> str:
        """Update one record (a random one, or `record_id` with `changes`)."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            rec = self._load(sobject, record_id)[0] if record_id else self._pick(sobject)
            if rec is None:
                return f"no {sobject} to update"
            changes = changes if changes is not None else self._changes_for(sobject, rec)
            stamp = self._tick()
            changed = self._apply(sobject, rec, changes, stamp)
            self._emit(sobject, "UPDATE", [rec["Id"]], changed, stamp)
            return f"updated {sobject} {rec['Id']} {sorted(changed)}"

    def _update_user(self) -> str:
        user = self.rnd.choice(self.users)
        rec = self._load("User", user["Id"])[0]
        stamp = self._tick()
        changed = self._apply(
            "User",
            rec,
            {"Title": self.rnd.choice(["Senior Account Executive", "Sales Director", "SDR Lead"])},
            stamp,
        )
        user.update(rec)
        self._emit("User", "UPDATE", [rec["Id"]], changed, stamp)
        return f"updated User {rec['Id']}"

    def create_record(self, sobject: str) -> str:
        with self.lock:
            sobject = self._check_sobject(sobject)
            template = self._pick(sobject)
            if template is None:
                return f"no {sobject} to copy"
            new_id, n = self._new_id(sobject)
            stamp = self._tick()
            rec = dict(template)
            rec.update(
                Id=new_id,
                CreatedDate=stamp,
                LastModifiedDate=stamp,
                SystemModstamp=stamp,
                IsDeleted=False,
            )
            if "OwnerId" in rec:
                rec["OwnerId"] = self._actor()
            if "Name" in rec and sobject in ("Account", "Opportunity"):
                rec["Name"] = f"{rec['Name'].rsplit(' ', 1)[0]} {n}"
            if sobject == "Opportunity":
                rec.update(
                    StageName="Prospecting",
                    Probability=10.0,
                    ForecastCategoryName="Pipeline",
                    IsClosed=False,
                    IsWon=False,
                )
                rec["CloseDate"] = (
                    (self.now + timedelta(days=self.rnd.randrange(30, 180))).date().isoformat()
                )
                rec["ExpectedRevenue"] = round(float(rec.get("Amount") or 0) * 0.1, 2)
            for name, spec in self.schema[sobject].items():
                if (
                    name not in rec
                    and spec.name.endswith("__c")
                    and spec.type in ("string", "textarea")
                ):
                    rec[name] = f"new {name}"
            self._insert_many(sobject, [self._row(sobject, rec, n)])
            self._emit(
                sobject, "CREATE", [new_id], {k: v for k, v in rec.items() if k != "Id"}, stamp
            )
            return f"created {sobject} {new_id}"

    def soft_delete(self, sobject: str, record_id: str | None = None) -> str:
        """Move a record to the recycle bin (IsDeleted = true; still in queryAll)."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            if sobject == "User":
                raise OrgError(400, "ENTITY_IS_DELETED", "users cannot be deleted")
            rec = self._load(sobject, record_id)[0] if record_id else self._pick(sobject)
            if rec is None:
                return f"no {sobject} to delete"
            stamp = self._tick()
            rec.update(IsDeleted=True, LastModifiedDate=stamp, SystemModstamp=stamp)
            self._save(sobject, rec, deleted_date=stamp)
            self._emit(sobject, "DELETE", [rec["Id"]], None, stamp)
            return f"deleted {sobject} {rec['Id']}"

    def undelete(self, sobject: str, record_id: str | None = None) -> str:
        with self.lock:
            sobject = self._check_sobject(sobject)
            rec = (
                self._load(sobject, record_id)[0]
                if record_id
                else self._pick(sobject, deleted=True)
            )
            if rec is None or not rec.get("IsDeleted"):
                return f"no deleted {sobject} to undelete"
            stamp = self._tick()
            rec.update(IsDeleted=False, LastModifiedDate=stamp, SystemModstamp=stamp)
            self._save(sobject, rec, deleted_date=None)
            self._emit(sobject, "UNDELETE", [rec["Id"]], {}, stamp)
            return f"undeleted {sobject} {rec['Id']}"

    def hard_delete(self, sobject: str, record_id: str | None = None) -> str:
        """Purge a record (from the recycle bin if it is there): gone even from queryAll."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            if record_id:
                hit = self._load(sobject, record_id)
                rec, was_deleted = hit if hit else (None, False)
            else:
                rec = self._pick(sobject, deleted=True)
                was_deleted = rec is not None
                if rec is None:
                    rec = self._pick(sobject)
            if rec is None:
                return f"no {sobject} to purge"
            stamp = self._tick()
            deleted_date = self.db.execute(
                f"SELECT deleted_date FROM {self._table(sobject)} WHERE id = ?", [rec["Id"]]
            ).fetchone()[0]
            self.db.execute(f"DELETE FROM {self._table(sobject)} WHERE id = ?", [rec["Id"]])
            self.db.execute(
                "INSERT INTO tombstones VALUES (?, ?, ?)",
                [sobject, rec["Id"], deleted_date or stamp],
            )
            if not was_deleted:
                self._emit(sobject, "DELETE", [rec["Id"]], None, stamp)
            return f"purged {sobject} {rec['Id']}"

    def mass_reassign(self, sobject: str = "Opportunity", count: int = 5) -> str:
        """Give several records one new owner in one transaction (one CDC event, one stamp)."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            if "OwnerId" not in self.schema[sobject]:
                sobject = "Opportunity"
            owner = self._actor()
            stamp = self._tick()
            ids = []
            for _ in range(count):
                rec = self._pick(sobject)
                if rec is None or rec["Id"] in ids:
                    continue
                self._apply(sobject, rec, {"OwnerId": owner}, stamp)
                ids.append(rec["Id"])
            if ids:
                self._emit(sobject, "UPDATE", sorted(ids), {"OwnerId": owner}, stamp)
            return f"reassigned {len(ids)} {sobject} to {owner}"

    def inject_gap(
        self, sobject: str = "Opportunity", kind: str = "GAP_UPDATE", count: int = 1
    ) -> str:
        """Change `count` records but publish only a header-only GAP_* event naming them
        (GAP_OVERFLOW names none: the consumer re-syncs the object for the window)."""
        with self.lock:
            sobject = self._check_sobject(sobject)
            if kind not in (
                "GAP_CREATE",
                "GAP_UPDATE",
                "GAP_DELETE",
                "GAP_UNDELETE",
                "GAP_OVERFLOW",
            ):
                raise ValueError(f"unknown gap kind {kind!r}")
            stamp = self._tick()
            ids = []
            for _ in range(count):
                rec = self._pick(sobject)
                if rec is None:
                    break
                self._apply(sobject, rec, self._changes_for(sobject, rec), stamp)
                ids.append(rec["Id"])
            self._emit(
                sobject, kind, [] if kind == "GAP_OVERFLOW" else sorted(set(ids)), None, stamp
            )
            return f"{kind} on {sobject} {ids}"

    # -- CDC --------------------------------------------------------------------------------------

    def _emit(
        self, sobject: str, change_type: str, ids: list[str], fields: dict | None, stamp: str
    ) -> None:
        if sobject not in CDC_OBJECTS:
            return
        self.commit_number += self.rnd.randrange(1, 50)
        specs = self.schema[sobject]
        header = {
            "entityName": sobject,
            "recordIds": ids,
            "changeType": change_type,
            "changeOrigin": f"com/salesforce/api/rest/{API_VERSION}",
            "transactionKey": hashlib.sha256(
                f"{self.seed}/{self.commit_number}".encode()
            ).hexdigest()[:24],
            "sequenceNumber": 1,
            "commitTimestamp": epoch_ms(stamp),
            "commitNumber": self.commit_number,
            "commitUser": self._actor(),
            "changedFields": [],
            "nulledFields": [],
            "diffFields": [],
        }
        body: dict = {}
        if fields is not None and change_type in ("CREATE", "UPDATE"):
            values = {k: v for k, v in fields.items() if k in specs and k not in ("IsDeleted",)}
            if change_type == "UPDATE":
                values.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            else:
                values = {k: v for k, v in values.items() if v is not None}
            changed, nulled = [], []
            for name, value in values.items():
                value = coerce(value, specs[name].type)
                path = name
                if sobject in COMPOUND_NAME and name in ("FirstName", "LastName", "Name"):
                    if name == "Name":
                        continue
                    body.setdefault("Name", {})[name] = value
                    path = f"Name.{name}"
                else:
                    body[name] = value
                if change_type == "UPDATE":
                    changed.append(path)
                    if value is None:
                        nulled.append(path)
            header["changedFields"] = changed
            header["nulledFields"] = nulled
        self.replay_ids[sobject] += 1
        schema_id = (
            base64.urlsafe_b64encode(
                hashlib.sha256(
                    orjson.dumps(sorted((k, v.type) for k, v in specs.items()))
                ).digest()[:16]
            )
            .decode()
            .rstrip("=")
        )
        event = {
            "schema": schema_id,
            "payload": {"ChangeEventHeader": header, **body},
            "event": {"replayId": self.replay_ids[sobject]},
        }
        key = (ids[0] if ids else sobject).encode()
        item = (f"salesforce.cdc.{sobject}", key, orjson.dumps(event))
        self.cdc_log.append(item)
        self._cdc_pending.append(item)

    def drain_cdc(self) -> list[tuple[str, bytes, bytes]]:
        """The change events since the last drain: (topic, key, value) tuples, in commit order."""
        with self.lock:
            out, self._cdc_pending = self._cdc_pending, []
            return out

    def write_cdc_jsonl(
        self, out_dir: str | Path, events: list[tuple[str, bytes, bytes]] | None = None
    ) -> dict[str, int]:
        """Append the drained (or given) events to `salesforce.cdc.<Object>.jsonl` files."""
        events = self.drain_cdc() if events is None else events
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        counts: Counter[str] = Counter()
        handles = {}
        try:
            for topic, _key, value in events:
                if topic not in handles:
                    handles[topic] = open(out / f"{topic}.jsonl", "ab")  # noqa: SIM115
                handles[topic].write(value + b"\n")
                counts[topic] += 1
        finally:
            for fh in handles.values():
                fh.close()
        return dict(counts)

"""The SOQL subset the emulator understands.

`SELECT f1, f2 | COUNT(), SUM(f) FROM O [WHERE c AND c ...] [ORDER BY f [ASC|DESC], ...]
[LIMIT n]` with conditions `f op value` (`=`, `!=`, `<`, `<=`, `>`, `>=`) and `f [NOT] IN (...)`;
values are quoted strings, numbers, `true` / `false`, `null`, dates and datetime literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class SoqlError(ValueError):
    pass


@dataclass
class Condition:
    field: str
    op: str
    values: list[object]


@dataclass
class Soql:
    sobject: str
    fields: list[str]
    aggregates: list[tuple[str, str | None]] = field(default_factory=list)
    where: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)
    limit: int | None = None


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_AGG = re.compile(r"^(COUNT|SUM|MIN|MAX|AVG)\(\s*(\w*)\s*\)$", re.IGNORECASE)
_COND = re.compile(r"^(\w+)\s*(>=|<=|!=|<>|=|<|>)\s*(.+)$", re.DOTALL)
_IN = re.compile(r"^(\w+)\s+(NOT\s+IN|IN)\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(r"'((?:[^'\\]|\\.)*)'|([^,\s]+)")


def _value(quoted: str, bare: str) -> object:
    if not bare:
        return re.sub(r"\\(.)", r"\1", quoted)
    low = bare.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", bare):
        return float(bare)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?", bare):
        return bare
    raise SoqlError(f"unexpected token: {bare}")


def _split_and(text: str) -> list[str]:
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'" and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and re.match(r"\s+AND\s+", text[i:], re.IGNORECASE):
            if i > start and text[i - 1].isspace() is False:
                pass
            m = re.match(r"\s+AND\s+", text[i:], re.IGNORECASE)
            assert m is not None
            parts.append(text[start:i])
            i += m.end()
            start = i
            continue
        elif not quoted and depth == 0 and re.match(r"\s+OR\s+", text[i:], re.IGNORECASE):
            raise SoqlError("OR is not supported by this emulator")
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_soql(text: str) -> Soql:
    m = _QUERY.match(text)
    if not m:
        raise SoqlError(f"unexpected query: {text.strip()[:200]}")
    fields, aggregates = [], []
    for item in (f.strip() for f in m.group("fields").split(",")):
        agg = _AGG.match(item)
        if agg:
            aggregates.append((agg.group(1).upper(), agg.group(2) or None))
        elif re.fullmatch(r"\w+", item):
            fields.append(item)
        else:
            raise SoqlError(f"unsupported select item: {item}")
    if fields and aggregates:
        raise SoqlError("GROUP BY is not supported: mix of fields and aggregates")
    query = Soql(m.group("sobject"), fields, aggregates)
    if m.group("where"):
        for part in _split_and(m.group("where")):
            if part.startswith("(") and part.endswith(")"):
                part = part[1:-1].strip()
            hit = _IN.match(part)
            if hit:
                values = [_value(q, b) for q, b in _TOKEN.findall(hit.group(3))]
                op = "NOT IN" if hit.group(2).upper().startswith("NOT") else "IN"
                query.where.append(Condition(hit.group(1), op, values))
                continue
            hit = _COND.match(part)
            if not hit:
                raise SoqlError(f"unsupported condition: {part}")
            tokens = _TOKEN.findall(hit.group(3).strip())
            if len(tokens) != 1:
                raise SoqlError(f"unsupported condition: {part}")
            op = "!=" if hit.group(2) == "<>" else hit.group(2)
            query.where.append(Condition(hit.group(1), op, [_value(*tokens[0])]))
    if m.group("order"):
        for item in m.group("order").split(","):
            words = item.split()
            if (
                not words
                or len(words) > 2
                or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC"))
            ):
                raise SoqlError(f"unsupported ORDER BY: {item}")
            query.order_by.append((words[0], len(words) == 2 and words[1].upper() == "DESC"))
    if m.group("limit"):
        query.limit = int(m.group("limit"))
    return query

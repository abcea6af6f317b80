"""A synthetic B2B SaaS go-to-market organisation, simulated day by day.

Teams form a hierarchy (region → segment → pod) that reorganises: renames, parent changes, new
teams, and reorganisation waves with merges, splits and mass transfers (at `medium`, the wave
moves 60% of the reps within 20 minutes: a peak above 10K events/hour).
Reps are hired (Okta create + activate, identity link, primary team), transfer, cover other teams
(secondary roles), convert from contractor to FTE (a new Okta user linked to the same repl),
get suspended, and leave. Support tickets are assigned to them while active.

Everything is driven by one `random.Random(seed)` and a fixed end instant, so the same scale and
seed always produce the same bytes.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from ingest.generator.sink import TopicSink, iso


def orjson_dumps(value: object) -> bytes:
    return orjson.dumps(value)


HISTORY_END = datetime(2026, 10, 31, tzinfo=UTC)
REGIONS = ("AMER", "EMEA", "APAC")
SEGMENTS = (
    "SMB East",
    "SMB West",
    "Mid-Market",
    "Enterprise Strategic",
    "Renewals",
    "Expansion",
    "Onboarding",
    "Support Tier 1",
    "Support Tier 2",
)
ADMINS = ("ops.admin@clouddesk.example", "hr.sync@clouddesk.example", "revops@clouddesk.example")


@dataclass(frozen=True)
class Scale:
    reps: int
    teams: int
    days: int
    coverage_rate: float  # secondary add/remove actions per rep-day
    transfer_rate: float  # primary moves per rep-day
    ticket_rate: float  # tickets per active rep-day
    reorg_every_days: int
    wave_fraction: float  # share of reps moved in a reorganisation wave
    wave_minutes: int  # how long the mass transfers of a wave take (medium: >10K events/hour)
    leave_rate: float = 0.15  # leavers per rep-year (replaced by hires)
    merge_every: int = 20  # a wave merges one pod in this many
    split_every: int = 40  # and splits one pod in this many
    # Coverage stints and tickets generated in bulk (`ingest.generator.bulk`) instead of simulated
    # one by one; the simulation then only runs the org (teams, hires, transfers, reorganisations).
    bulk: Bulk | None = None

    @property
    def expected_admin_events(self) -> float:
        if self.bulk is not None:
            return self.reps * self.days * self.bulk.slots * self.bulk.coverage_fill * 2
        return self.reps * self.days * self.coverage_rate * 1.2


@dataclass(frozen=True)
class Bulk:
    """Rates of the bulk-generated events (see `ingest.generator.bulk`)."""

    slots: int  # coverage slots per rep: each rep-day, each slot holds at most one stint
    coverage_fill: float  # probability that a slot holds a stint on a working day
    tickets_per_rep_day: float  # between 0 and 2


SCALES: dict[str, Scale] = {
    "tiny": Scale(40, 8, 90, 0.12, 1 / 45, 0.25, 30, 0.3, 120),
    "small": Scale(500, 60, 730, 0.12, 1 / 120, 0.1, 91, 0.25, 120),
    "medium": Scale(6000, 1000, 2555, 0.55, 1 / 150, 0.07, 91, 0.6, 20),
    # CloudDesk's size: 18K active / ~60K historical reps, 2K active / ~10K historical teams,
    # 7 years, ~125M membership events (50K a day, 10K+ an hour in a wave), ~200M ticket events.
    "large": Scale(
        18000,
        2000,
        2555,
        0.0,
        1 / 150,
        0.0,
        91,
        0.6,
        20,
        leave_rate=0.35,
        merge_every=13,
        split_every=12,
        bulk=Bulk(slots=2, coverage_fill=0.68, tickets_per_rep_day=1.0),
    ),
}
# Not offered on the command line: the bulk engine at a size the tests can fold in Python.
BULK_TEST = Scale(
    60,
    12,
    120,
    0.0,
    1 / 45,
    0.0,
    30,
    0.3,
    120,
    leave_rate=1.0,
    merge_every=5,
    split_every=6,
    bulk=Bulk(slots=2, coverage_fill=0.5, tickets_per_rep_day=1.0),
)


@dataclass
class Team:
    team_id: str
    name: str
    parent_id: str | None
    level: int
    active: bool = True
    primary: set[str] = field(default_factory=set)
    secondary: set[str] = field(default_factory=set)


@dataclass
class Rep:
    repl_id: str
    okta_id: str
    login: str
    name: str
    zendesk_id: int
    contractor: bool
    primary: str | None = None
    secondary: set[str] = field(default_factory=set)
    active: bool = True
    suspended: bool = False
    hired_at: datetime | None = None
    left_at: datetime | None = None
    # (since, Okta user) in order: a contractor converted to FTE gets a second one.
    okta_history: list[tuple[datetime, str]] = field(default_factory=list)


class Company:
    def __init__(self, scale: Scale, rnd: random.Random, sinks: dict[str, TopicSink]) -> None:
        self.scale = scale
        self.rnd = rnd
        self.admin = sinks["admin.membership.v1"]
        self.okta = sinks["okta.system_log.v1"]
        self.zendesk = sinks["zendesk.ticket_events.v1"]
        self.teams: dict[str, Team] = {}
        self.reps: dict[str, Rep] = {}
        self.active_reps: list[str] = []
        self.next_team = 0
        self.next_rep = 0
        self.next_ticket = 10_000
        self.next_ticket_event = 1_000_000
        self.next_zendesk_user = 360_000_000
        self._pods: list[Team] | None = None  # active pods; rebuilt only when teams change
        # What the bulk generator needs of the org (recorded only at a bulk scale): the days of
        # the reorganisation waves with the pods active after each, and every primary change.
        self.recording = scale.bulk is not None
        self.history_start = HISTORY_END - timedelta(days=scale.days)
        self.waves: list[tuple[int, list[str]]] = []
        self.primary_log: list[tuple[str, datetime, str | None]] = []

    # -- ids ---------------------------------------------------------------------------------

    def uuid(self) -> str:
        h = f"{self.rnd.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def okta_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "00u" + "".join(self.rnd.choice(alphabet) for _ in range(17))

    # -- admin events --------------------------------------------------------------------------

    def admin_event(
        self, event_type: str, at: datetime, emitted_after: datetime | None = None, **fields: object
    ) -> datetime:
        event = {
            "event_id": self.uuid(),
            "event_type": event_type,
            "repl_id": fields.pop("repl_id", None),
            "team_id": fields.pop("team_id", None),
            "effective_at": iso(at),
            "emitted_at": None,
            "actor": self.rnd.choice(ADMINS),
            **fields,
        }
        return self.admin.emit(event, at, new_id=self.uuid(), emitted_after=emitted_after)

    def okta_event(self, event_type: str, at: datetime, rep: Rep, okta_id: str) -> None:
        verb = event_type.rsplit(".", 1)[-1]
        self.okta.emit(
            {
                "uuid": self.uuid(),
                "published": iso(at),
                "eventType": event_type,
                "legacyEventType": f"core.user.config.user_{verb}",
                "displayMessage": f"{verb.capitalize()} Okta user",
                "severity": "INFO",
                "actor": {
                    "id": "00u0admin0000000000",
                    "type": "User",
                    "alternateId": "it.admin@clouddesk.example",
                    "displayName": "IT Admin",
                },
                "target": [
                    {
                        "id": okta_id,
                        "type": "User",
                        "alternateId": rep.login,
                        "displayName": rep.name,
                    }
                ],
                "outcome": {"result": "SUCCESS"},
            },
            at,
        )

    # -- teams ----------------------------------------------------------------------------------

    def create_team(self, at: datetime, parent: Team | None, name: str | None = None) -> Team:
        self.next_team += 1
        level = 0 if parent is None else parent.level + 1
        team = Team(
            f"t_{self.next_team:04d}", name or "", parent.team_id if parent else None, level
        )
        if not team.name:
            region = REGIONS[self.next_team % len(REGIONS)]
            team.name = f"{region} {self.rnd.choice(SEGMENTS)} {self.next_team}"
        self.teams[team.team_id] = team
        self._pods = None
        self.admin_event(
            "TEAM_CREATED",
            at,
            team_id=team.team_id,
            team_name=team.name,
            parent_team_id=team.parent_id,
        )
        return team

    def pods(self) -> list[Team]:
        if self._pods is None:
            self._pods = [t for t in self.teams.values() if t.active and t.level == 2]
        return self._pods

    def build_org(self, at: datetime) -> None:
        roots = [self.create_team(at, None, f"{r} Go-To-Market") for r in REGIONS]
        segment_count = max(3, self.scale.teams // 12)
        segments = [self.create_team(at, roots[i % 3]) for i in range(segment_count)]
        for i in range(self.scale.teams - len(roots) - len(segments)):
            self.create_team(at + timedelta(minutes=1), segments[i % len(segments)])

    # -- reps -----------------------------------------------------------------------------------

    def join(
        self,
        rep: Rep,
        team: Team,
        role: str,
        at: datetime,
        explicit_role: bool = True,
        emitted_after: datetime | None = None,
    ) -> None:
        fields = {"role": role} if explicit_role or role != "primary" else {}
        self.admin_event(
            "MEMBERSHIP_ADDED",
            at,
            emitted_after,
            repl_id=rep.repl_id,
            team_id=team.team_id,
            **fields,
        )
        if role == "primary":
            if rep.primary and rep.primary in self.teams:
                self.teams[rep.primary].primary.discard(rep.repl_id)
            rep.primary = team.team_id
            team.primary.add(rep.repl_id)
            self.log_primary(rep, at)
        else:
            rep.secondary.add(team.team_id)
            team.secondary.add(rep.repl_id)

    def leave(self, rep: Rep, team_id: str, role: str | None, at: datetime) -> datetime:
        fields = {"role": role} if role else {}
        emitted = self.admin_event(
            "MEMBERSHIP_REMOVED", at, repl_id=rep.repl_id, team_id=team_id, **fields
        )
        team = self.teams[team_id]
        if role in (None, "primary") and rep.primary == team_id:
            rep.primary = None
            team.primary.discard(rep.repl_id)
            self.log_primary(rep, at)
        if role in (None, "secondary") and team_id in rep.secondary:
            rep.secondary.discard(team_id)
            team.secondary.discard(rep.repl_id)
        return emitted

    def log_primary(self, rep: Rep, at: datetime) -> None:
        if self.recording:
            self.primary_log.append((rep.repl_id, at, rep.primary))

    def hire(self, at: datetime) -> Rep:
        self.next_rep += 1
        n = self.next_rep
        self.next_zendesk_user += 1
        first = self.rnd.choice(("alex", "sam", "kim", "noor", "li", "maria", "ola", "ravi", "jo"))
        rep = Rep(
            repl_id=f"r_{n:06d}",
            okta_id=self.okta_id(),
            login=f"{first}.{n}@clouddesk.example",
            name=f"{first.capitalize()} {n}",
            zendesk_id=self.next_zendesk_user,
            contractor=self.rnd.random() < 0.1,
        )
        rep.hired_at = at + timedelta(minutes=15)
        rep.okta_history.append((at, rep.okta_id))
        self.reps[rep.repl_id] = rep
        self.active_reps.append(rep.repl_id)
        self.okta_event("user.lifecycle.create", at, rep, rep.okta_id)
        self.okta_event("user.lifecycle.activate", at + timedelta(minutes=5), rep, rep.okta_id)
        link_at = at + timedelta(minutes=10)
        self.admin_event(
            "REPL_IDENTITY_LINKED", link_at, repl_id=rep.repl_id, okta_user_id=rep.okta_id
        )
        pods = self.pods()
        self.join(
            rep,
            self.rnd.choice(pods),
            "primary",
            at + timedelta(minutes=15),
            self.rnd.random() < 0.5,
        )
        return rep

    def terminate(self, rep: Rep, at: datetime) -> None:
        for team_id in sorted(rep.secondary):
            self.leave(rep, team_id, "secondary", at)
        if rep.primary:
            self.leave(rep, rep.primary, None, at + timedelta(minutes=1))
        rep.active = False
        rep.left_at = at
        self.active_reps.remove(rep.repl_id)
        self.okta_event("user.lifecycle.deactivate", at + timedelta(minutes=2), rep, rep.okta_id)

    def convert_contractor(self, rep: Rep, at: datetime) -> None:
        old = rep.okta_id
        rep.okta_id = self.okta_id()
        rep.contractor = False
        rep.okta_history.append((at, rep.okta_id))
        self.okta_event("user.lifecycle.create", at, rep, rep.okta_id)
        self.okta_event("user.lifecycle.activate", at + timedelta(minutes=3), rep, rep.okta_id)
        self.admin_event(
            "REPL_IDENTITY_LINKED",
            at + timedelta(minutes=5),
            repl_id=rep.repl_id,
            okta_user_id=rep.okta_id,
        )
        self.okta_event("user.lifecycle.deactivate", at + timedelta(hours=2), rep, old)

    def transfer(self, rep: Rep, at: datetime, target: Team | None = None) -> None:
        pods = self.pods()
        target = target or self.rnd.choice(pods)
        if target.team_id == rep.primary:
            return
        closed = None
        if rep.primary and self.rnd.random() < 0.3:
            closed = self.leave(
                rep, rep.primary, "primary", at
            )  # explicit close, then the new team
        self.join(rep, target, "primary", at, self.rnd.random() < 0.5, emitted_after=closed)

    # -- reorganisations --------------------------------------------------------------------------

    def merge(self, absorbed: Team, survivor: Team, at: datetime) -> None:
        self.admin_event(
            "TEAM_MERGED", at, team_id=absorbed.team_id, merged_into_team_id=survivor.team_id
        )
        absorbed.active = False
        self._pods = None
        for repl_id in list(absorbed.primary):
            self.reps[repl_id].primary = survivor.team_id
            survivor.primary.add(repl_id)
            self.log_primary(self.reps[repl_id], at)
        for repl_id in list(absorbed.secondary):
            rep = self.reps[repl_id]
            rep.secondary.discard(absorbed.team_id)
            rep.secondary.add(survivor.team_id)
            survivor.secondary.add(repl_id)
        absorbed.primary.clear()
        absorbed.secondary.clear()

    def split(self, team: Team, at: datetime) -> None:
        parent = self.teams.get(team.parent_id) if team.parent_id else None
        successors = [self.create_team(at - timedelta(minutes=5), parent) for _ in range(2)]
        self.admin_event(
            "TEAM_SPLIT",
            at,
            team_id=team.team_id,
            successor_team_ids=[t.team_id for t in successors],
        )
        team.active = False
        self._pods = None
        members = sorted(team.primary)
        for repl_id in list(team.secondary):
            self.reps[repl_id].secondary.discard(team.team_id)
        team.primary.clear()
        team.secondary.clear()
        for i, repl_id in enumerate(members):
            rep = self.reps[repl_id]
            rep.primary = None
            self.log_primary(rep, at)
            if i == 0 and len(members) > 2 and self.rnd.random() < 0.5:
                continue  # forgotten: flagged by dq_repls_without_primary_after_split
            self.join(rep, successors[i % 2], "primary", at + timedelta(minutes=10), True)

    def reorganise(self, day: datetime) -> None:
        rnd = self.rnd
        at = day + timedelta(hours=9, minutes=rnd.randrange(60))
        pods = self.pods()
        if len(pods) > 6:
            # One second apart: the Admin Service applies a wave's merges one after another
            # (a survivor may itself be absorbed later in the wave).
            for i in range(max(1, len(pods) // self.scale.merge_every)):
                absorbed, survivor = rnd.sample(self.pods(), 2)
                self.merge(absorbed, survivor, at + timedelta(seconds=i))
            # Splits only of teams that existed before them (not of a split's fresh successors).
            before = self.pods()
            for i in range(max(1, len(before) // self.scale.split_every)):
                candidates = [t for t in before if t.active]
                self.split(rnd.choice(candidates), at + timedelta(minutes=20, seconds=i))
        movers = rnd.sample(self.active_reps, int(len(self.active_reps) * self.scale.wave_fraction))
        for i, repl_id in enumerate(sorted(movers)):
            rep = self.reps[repl_id]
            if rep.active:
                self.transfer(
                    rep,
                    at
                    + timedelta(
                        minutes=31,
                        seconds=i * self.scale.wave_minutes * 60 // max(len(movers), 1),
                    ),
                )
        for team in rnd.sample(list(self.teams.values()), max(1, len(self.teams) // 15)):
            if team.active:
                suffix = rnd.choice(("North", "South", "Core", "Plus"))
                name = f"{team.name.rsplit(' ', 1)[0]} {suffix}"
                team.name = name
                self.admin_event(
                    "TEAM_RENAMED", at + timedelta(hours=3), team_id=team.team_id, team_name=name
                )
        segments = [t for t in self.teams.values() if t.active and t.level == 1]
        for team in rnd.sample(pods, max(1, len(pods) // 25)):
            if team.active and segments:
                team.parent_id = rnd.choice(segments).team_id
                self.admin_event(
                    "TEAM_PARENT_CHANGED",
                    at + timedelta(hours=4),
                    team_id=team.team_id,
                    parent_team_id=team.parent_id,
                )

    # -- tickets --------------------------------------------------------------------------------

    def ticket(self, rep: Rep, at: datetime) -> None:
        rnd = self.rnd
        self.next_ticket += 1
        ticket_id = self.next_ticket
        priority = rnd.choice(("low", "normal", "normal", "high", "urgent"))
        assignee: Rep | None = rep
        steps = [("ticket.created", "new"), ("ticket.status_changed", "open")]
        if rnd.random() < 0.3 and len(self.active_reps) > 1:
            steps.append(("ticket.assignee_changed", "open"))
        steps += [("ticket.status_changed", "pending"), ("ticket.solved", "solved")]
        t = at
        for event_type, status in steps:
            if event_type == "ticket.assignee_changed":
                assignee = self.reps[rnd.choice(self.active_reps)]
            self.next_ticket_event += 1
            person = None
            if assignee is not None:
                person = {
                    "id": assignee.zendesk_id,
                    "external_id": assignee.okta_id,
                    "email": assignee.login,
                }
            roll = rnd.random()
            if roll < 0.01:
                person = None  # unassigned
            elif roll < 0.015 and person is not None:
                person = {**person, "external_id": self.okta_id()}  # unknown to Okta
            self.zendesk.emit(
                {
                    "id": self.next_ticket_event,
                    "ticket_id": ticket_id,
                    "type": event_type,
                    "created_at": iso(t),
                    "assignee": person,
                    "status": status,
                    "priority": priority,
                    "via": rnd.choice(("email", "web", "chat", "api")),
                    "group_id": 20_000 + (int(rep.primary[2:]) if rep.primary else 0),
                },
                t,
            )
            t += timedelta(minutes=rnd.uniform(5, 60 * 24))
            if t >= HISTORY_END:
                break

    # -- the simulation ---------------------------------------------------------------------------

    def poisson(self, lam: float) -> int:
        if lam > 30:
            return max(0, round(self.rnd.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rnd.random()
            if p <= limit:
                return k
            k += 1

    def day(self, day: datetime, index: int) -> None:
        rnd, scale = self.rnd, self.scale
        sinks = (self.admin, self.okta, self.zendesk)
        for sink in sinks:
            sink.flush_until(day)
        if index % 30 == 0 and self.active_reps and rnd.random() < 0.5:
            # 07:00, before the day's other changes, so "not a member" is true at that instant.
            self.leave_orphan(rnd.choice(self.pods()), day + timedelta(hours=7))
        first_second = 8 * 3600
        if index and index % scale.reorg_every_days == 0:
            self.reorganise(day)
            if self.recording:
                self.waves.append((index, [t.team_id for t in self.pods()]))
            first_second = 15 * 3600  # the day's other work follows the wave (09:00–14:00)
        n = len(self.active_reps)
        # Actions through the working day, in time order so the true history is consistent.
        actions: list[tuple[int, str]] = []
        actions += [(0, "coverage")] * self.poisson(n * scale.coverage_rate)
        actions += [(0, "transfer")] * self.poisson(n * scale.transfer_rate)
        actions += [(0, "leave")] * self.poisson(n * scale.leave_rate / 365)
        actions += [(0, "hire")] * self.poisson(
            max(0.0, scale.reps - n) * 0.05 + n * scale.leave_rate / 365
        )
        actions += [(0, "convert")] * self.poisson(n * 0.1 / 400)
        actions += [(0, "suspend")] * self.poisson(n * 0.01 / 365)
        actions += [(0, "ticket")] * self.poisson(n * scale.ticket_rate)
        seconds = sorted(rnd.randrange(first_second, 18 * 3600) for _ in actions)
        rnd.shuffle(actions)
        for second, (_, action) in zip(seconds, actions, strict=True):
            at = day + timedelta(seconds=second)
            if action == "hire":
                self.hire(at)
                continue
            if not self.active_reps:
                continue
            rep = self.reps[rnd.choice(self.active_reps)]
            if action == "coverage":
                if rep.secondary and (len(rep.secondary) >= 2 or rnd.random() < 0.5):
                    self.leave(rep, rnd.choice(sorted(rep.secondary)), "secondary", at)
                else:
                    team = rnd.choice(self.pods())
                    if team.team_id != rep.primary and team.team_id not in rep.secondary:
                        self.join(rep, team, "secondary", at)
            elif action == "transfer":
                self.transfer(rep, at)
            elif action == "leave":
                self.terminate(rep, at)
            elif action == "convert" and rep.contractor:
                self.convert_contractor(rep, at)
            elif action == "suspend":
                self.okta_event("user.lifecycle.suspend", at, rep, rep.okta_id)
                self.okta_event(
                    "user.lifecycle.unsuspend", at + timedelta(days=2), rep, rep.okta_id
                )
            elif action == "ticket":
                self.ticket(rep, at)

    def leave_orphan(self, team: Team, at: datetime) -> None:
        """A removal for someone not in the team: an orphan the warehouse reports."""
        if self.active_reps:
            repl_id = self.rnd.choice(self.active_reps)
            if repl_id not in team.primary and team.team_id not in self.reps[repl_id].secondary:
                self.admin_event("MEMBERSHIP_REMOVED", at, repl_id=repl_id, team_id=team.team_id)
                self.admin.stats["orphan_removals"] += 1

    def inject_invalid(self, kind: str, at: datetime) -> None:
        """One message that is wrong on purpose, of the given kind."""
        rnd = self.rnd
        team_id = rnd.choice(sorted(self.teams))
        repl_id = rnd.choice(self.active_reps) if self.active_reps else "r_000001"
        base = {
            "event_id": self.uuid(),
            "event_type": "MEMBERSHIP_ADDED",
            "repl_id": repl_id,
            "team_id": team_id,
            "role": "secondary",
            "effective_at": iso(at),
            "emitted_at": iso(at + timedelta(seconds=30)),
            "actor": ADMINS[0],
        }
        if kind == "malformed":
            line = rnd.choice(
                (
                    orjson_dumps(base)[:-7],  # truncated JSON
                    b"<html>502 Bad Gateway</html>",
                    b'["MEMBERSHIP_ADDED", "' + repl_id.encode() + b'"]',
                )
            )
        elif kind == "unknown_type":
            line = orjson_dumps({**base, "event_type": "TEAM_ARCHIVED", "repl_id": None})
        elif kind == "missing_key":
            line = orjson_dumps({k: v for k, v in base.items() if k != "team_id"})
        else:  # bad_timestamp
            line = orjson_dumps({**base, "effective_at": "2026-13-45T99:00:00Z"})
        self.admin.emit_raw(line, at + timedelta(seconds=45), kind)

    def run(self) -> None:
        start = self.history_start = HISTORY_END - timedelta(days=self.scale.days)
        self.build_org(start)
        for i in range(int(self.scale.reps * 0.9)):
            self.hire(start + timedelta(hours=1, seconds=i * 5))
        # Invalid messages: at least one of each kind, more in proportion to the company's size.
        if self.recording:
            self.waves.append((0, [t.team_id for t in self.pods()]))
        expected_events = self.scale.expected_admin_events
        dirt = self.admin.dirt
        planned: dict[int, list[str]] = {}
        for kind, rate in (
            ("malformed", dirt.malformed),
            ("unknown_type", dirt.unknown_type),
            ("missing_key", dirt.missing_key),
            ("bad_timestamp", dirt.bad_timestamp),
        ):
            for _ in range(max(1, round(expected_events * rate))):
                planned.setdefault(self.rnd.randrange(1, self.scale.days), []).append(kind)
        for index in range(1, self.scale.days):
            day = start + timedelta(days=index)
            self.day(day, index)
            for kind in planned.get(index, []):
                self.inject_invalid(kind, day + timedelta(hours=self.rnd.uniform(8, 18)))

"""Where scenarios and play sessions are kept (JSON files under ``<data dir>/gamedays``), and keeping
scenarios current: why one no longer matches the knowledge base, rebuilding it with its edits, editing a clue.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from kb.clients.files import write_atomic
from kb.core.errors import KBError, NotFound
from kb.core.models import Scenario, Session
from kb.core.settings import Settings
from kb.gameday.clues import related_postmortems
from kb.gameday.scenario import build_scenario
from kb.retrieval.corpus import Corpus
from kb.text.steps import terms_of


class ScenarioStore:
    """Scenarios and play sessions as JSON files under ``<data dir>/gamedays``."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir / "gamedays"

    @property
    def scenarios_dir(self) -> Path:
        return self.root / "scenarios"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    def save(self, scenario: Scenario) -> Path:
        self.scenarios_dir.mkdir(parents=True, exist_ok=True)
        path = self.scenarios_dir / f"{scenario.id}.json"
        write_atomic(path, scenario.model_dump_json(indent=2))
        return path

    def load(self, scenario_id: str) -> Scenario:
        path = self.scenarios_dir / f"{scenario_id}.json"
        if not path.exists():
            raise NotFound(f"no game-day scenario '{scenario_id}' (see `kb gameday list`)")
        try:
            return Scenario.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise KBError(f"{path}: not a readable scenario ({str(exc)[:200]})") from exc

    def all(self) -> list[Scenario]:
        if not self.scenarios_dir.exists():
            return []
        return [self.load(p.stem) for p in sorted(self.scenarios_dir.glob("*.json"))]


def stale_reasons(corpus: Corpus, scenario: Scenario) -> list[str]:
    """Why a scenario no longer matches the knowledge base (empty when it is current)."""
    metas = corpus.record_metas()
    reasons = []
    for doc_id, digest in scenario.source_hashes.items():
        meta = metas.get(doc_id)
        if meta is None:
            reasons.append(f"{doc_id} is no longer stored")
        elif meta.content_hash != digest:
            reasons.append(f"{doc_id} changed")
    if scenario.source_id in metas:
        record = corpus.record(scenario.source_id)
        new = sorted(set(related_postmortems(corpus, record)) - set(scenario.related_ids))
        if new:
            reasons.append(f"new related incidents: {', '.join(new[:3])}")
    return reasons


class ScenarioStatus(BaseModel):
    """A saved scenario as the list of scenarios shows it."""

    id: str
    source_id: str
    difficulty: str
    services: list[str]
    stale: bool
    why: list[str] = Field(description="Why it is stale (see ``stale_reasons``); empty when it is current.")


def statuses(corpus: Corpus, scenarios: ScenarioStore) -> list[ScenarioStatus]:
    """Every saved scenario, marked stale when its sources changed or new related incidents were stored."""
    out = []
    for scenario in scenarios.all():
        reasons = stale_reasons(corpus, scenario)
        out.append(ScenarioStatus(id=scenario.id, source_id=scenario.source_id, difficulty=scenario.difficulty,
                                  services=scenario.services, stale=bool(reasons), why=reasons))
    return out


def apply_edits(scenario: Scenario) -> Scenario:
    """Re-apply the game master's edits (clue wording, triggers) to the clues that still exist."""
    for clue in scenario.clues:
        edit = scenario.edits.get(clue.key)
        if not edit:
            continue
        if isinstance(edit.get("text"), str):
            clue.text = str(edit["text"])
        keywords = edit.get("keywords")
        if isinstance(keywords, list):
            clue.trigger.keywords = [str(k) for k in keywords]
        turns = edit.get("after_turns")
        if isinstance(turns, int):
            clue.trigger.after_turns = turns
    return scenario


def refresh(
    corpus: Corpus, scenarios: ScenarioStore, scenario_id: str, difficulty: str | None = None
) -> Scenario:
    """Rebuild a scenario from its (changed) sources, keeping its id, difficulty, edits and history; with
    ``difficulty``, rebuild it at that difficulty instead (a change, not marked as a refresh)."""
    old = scenarios.load(scenario_id)
    new = build_scenario(corpus, old.source_id, difficulty or old.difficulty, scenario_id=old.id)
    new.edits = old.edits
    new.created = old.created
    if difficulty is None:
        new.refreshed = dt.datetime.now(dt.UTC)
    apply_edits(new)
    scenarios.save(new)
    return new


def edit_clue(
    scenarios: ScenarioStore, scenario_id: str, number: int, text: str | None = None,
    keywords: Sequence[str] | None = None, after_turns: int | None = None,
) -> Scenario:
    """Change clue ``number`` (1-based, as listed); the edit is kept across refreshes."""
    scenario = scenarios.load(scenario_id)
    if not 1 <= number <= len(scenario.clues):
        raise KBError(f"scenario '{scenario_id}' has clues 1-{len(scenario.clues)}, not {number}")
    clue = scenario.clues[number - 1]
    edit: dict[str, Any] = dict(scenario.edits.get(clue.key, {}))
    if text is not None:
        edit["text"] = text
    if keywords is not None:
        edit["keywords"] = sorted({t for k in keywords for t in terms_of(k)})
    if after_turns is not None:
        edit["after_turns"] = after_turns
    scenario.edits[clue.key] = edit
    apply_edits(scenario)
    scenarios.save(scenario)
    return scenario


def save_session(scenarios: ScenarioStore, session: Session) -> None:
    scenarios.sessions_dir.mkdir(parents=True, exist_ok=True)
    path = scenarios.sessions_dir / f"{session.id}.json"
    write_atomic(path, session.model_dump_json(indent=2))


def sessions(scenarios: ScenarioStore) -> list[Session]:
    if not scenarios.sessions_dir.exists():
        return []
    out = []
    for path in sorted(scenarios.sessions_dir.glob("*.json")):
        try:
            out.append(Session.model_validate_json(path.read_text(encoding="utf-8")))
        except ValueError:
            continue  # a damaged file does not hide the others
    return sorted(out, key=lambda s: s.started)


class PastSession(BaseModel):
    """A finished session as the history lists it."""

    id: str
    scenario_id: str
    trainee: str
    services: list[str]
    started: dt.datetime
    outcome: str | None
    score: int | None
    turns: int
    hints: int

    @classmethod
    def of(cls, session: Session) -> PastSession:
        return cls(id=session.id, scenario_id=session.scenario_id, trainee=session.trainee, services=session.services,
                   started=session.started, outcome=session.outcome, score=session.score, turns=len(session.turns),
                   hints=session.hints_used)

    @field_serializer("started")
    def _isoformat(self, started: dt.datetime) -> str:
        return started.isoformat()  # "+00:00", as the history always printed it


@dataclass(frozen=True)
class Average:
    """The mean score of a group of scored sessions."""

    score: float
    sessions: int


def averages(past: Sequence[Session]) -> tuple[dict[str, Average], dict[str, Average]]:
    """The mean score per trainee and per service (a session counts for each of its services), over the
    sessions that were scored, by name."""
    by_trainee: dict[str, list[int]] = defaultdict(list)
    by_service: dict[str, list[int]] = defaultdict(list)
    for s in past:
        if s.score is None:
            continue
        by_trainee[s.trainee].append(s.score)
        for service in s.services:
            by_service[service].append(s.score)

    def mean(groups: dict[str, list[int]]) -> dict[str, Average]:
        return {name: Average(sum(v) / len(v), len(v)) for name, v in sorted(groups.items())}

    return mean(by_trainee), mean(by_service)

"""Scoring a play session against the scenario's rubric, and its debrief: the score, the rubric, the trainee's
path next to the real timeline, and the answer.
"""

from __future__ import annotations

import re

from kb.core.enums import RubricKind
from kb.core.models import RUBRIC_POINTS, Scenario, Session, Truth
from kb.text.steps import shorten

TURN_LIMIT = 30


#: the rubric's points (one table: ``RubricItem.points`` shows the same), then getting there fast and each hint
POINTS: dict[str, int] = {**RUBRIC_POINTS, "efficiency": 10, "hint": -5}


def _first_turn(session: Session, predicate) -> int | None:  # type: ignore[no-untyped-def]
    return next((t.n for t in session.turns if predicate(t)), None)


def points(scenario: Scenario, session: Session, turn_limit: int = TURN_LIMIT) -> dict[str, int]:
    """The points each thing earned: a rubric item's id, "diagnosed" (a hypothesis naming the cause),
    "efficiency" and "hints". One mitigation and one diagnosis count; communication counts twice at most."""
    rubric = {i.id: i for i in scenario.truth.rubric}
    matched = [rubric[m] for m in dict.fromkeys(session.matched) if m in rubric]
    earned: dict[str, int] = {}
    mitigation = next((i for i in matched if i.kind == RubricKind.mitigation), None)
    if mitigation is not None:
        earned[mitigation.id] = mitigation.points
        turns = len(session.turns)
        late = max(0, turns - 5) * POINTS["efficiency"] // max(1, turn_limit // 2)
        earned["efficiency"] = max(0, POINTS["efficiency"] - late)
    diagnosis = next((i for i in matched if i.kind == RubricKind.diagnosis), None)
    if diagnosis is not None:
        earned[diagnosis.id] = diagnosis.points
    elif "diagnosed" in session.matched:
        earned["diagnosed"] = POINTS[RubricKind.diagnosis]
    for item in [i for i in matched if i.kind == RubricKind.communication][:2]:
        earned[item.id] = item.points
    for item in matched:
        if item.kind == RubricKind.harmful:
            earned[item.id] = item.points
    if session.hints_used:
        earned["hints"] = POINTS["hint"] * session.hints_used
    return earned


def score(scenario: Scenario, session: Session, turn_limit: int = TURN_LIMIT) -> int:
    return max(0, min(100, sum(points(scenario, session, turn_limit).values())))


def _real_pace(truth: Truth) -> str:
    if truth.time_to_mitigate:
        return f"- the real responders took {truth.time_to_mitigate} from the first alert or report to recovery"
    if truth.impact_duration:
        return f"- the real impact lasted {truth.impact_duration}"
    return "- how long the real responders took is not recorded"


def _cell(text: str, width: int = 110) -> str:
    """Text for a table cell: one line, pipes escaped, cut after a word."""
    return shorten(text, width).replace("|", "/")


def debrief(scenario: Scenario, session: Session, turn_limit: int = TURN_LIMIT) -> str:
    """The debrief as Markdown: score, rubric, the trainee's path next to the real timeline, the answer."""
    lines = _summary_lines(scenario, session)
    lines += _rubric_table(scenario, session, turn_limit)
    lines += _path_lines(scenario, session)
    lines += _answer_lines(scenario)
    return "\n".join(lines) + "\n"


def _summary_lines(scenario: Scenario, session: Session) -> list[str]:
    """The heading and the trainee's outcome, score, pace and hints, next to the real responders' pace."""
    truth = scenario.truth
    rubric = {i.id: i for i in truth.rubric}
    diagnosed = _first_turn(session, lambda t: "diagnosed" in t.matched or any(
        rubric.get(m) is not None and rubric[m].kind == RubricKind.diagnosis for m in t.matched))
    mitigated = _first_turn(session, lambda t: any(rubric.get(m) is not None and rubric[m].kind == RubricKind.mitigation
                                                   for m in t.matched))
    return [
        f"# Debrief: {scenario.title}",
        "",
        f"- trainee: {session.trainee}",
        f"- outcome: {session.outcome}, score **{session.score}/100**",
        f"- turns: {len(session.turns)}; right diagnosis at turn {diagnosed or '-'}; mitigation at turn "
        f"{mitigated or '-'}; hints used: {session.hints_used}",
        _real_pace(truth),
        "",
    ]


def _rubric_table(scenario: Scenario, session: Session, turn_limit: int) -> list[str]:
    """The rubric as a table: each item met, missed or avoided, with the points it earned, and the total."""
    truth = scenario.truth
    rubric = {i.id: i for i in truth.rubric}
    got = set(session.matched)
    lines = ["## Rubric", "", "| | kind | what | points |", "|---|---|---|---|"]
    earned = points(scenario, session, turn_limit)
    counted = {rubric[i].kind for i in earned if i in rubric}
    for item in truth.rubric:
        hit = item.id in got
        if item.kind == RubricKind.harmful:
            mark = "✗ did" if hit else "✓ avoided"
        else:
            mark = "✓" if hit else "✗ missed"
        if not hit and item.kind in (RubricKind.mitigation, RubricKind.diagnosis) and item.kind in counted:
            mark, shown = "·", f"0 (one {item.kind} counts)"
        elif item.id in earned:
            shown = f"{earned[item.id]:+d}"
        elif hit:
            shown = "0 (counted once)"
        elif item.kind == RubricKind.harmful:
            shown = "0"
        else:
            shown = f"0 (worth {item.points:+d})"
        lines.append(f"| {mark} | {item.kind} | {_cell(item.text)} | {shown} |")
    if "diagnosed" in got:
        shown = f"{earned['diagnosed']:+d}" if "diagnosed" in earned else "0 (counted once)"
        lines.append(f"| ✓ | diagnosis | your hypothesis matched the root cause | {shown} |")
    if "efficiency" in earned:
        lines.append(f"| | efficiency | mitigated in {len(session.turns)} turns | {earned['efficiency']:+d} |")
    if "hints" in earned:
        lines.append(f"| | hints | {session.hints_used} used | {earned['hints']:+d} |")
    lines.append(f"| | **total** | (kept between 0 and 100) | **{session.score}** |")
    return lines


def _path_lines(scenario: Scenario, session: Session) -> list[str]:
    """The trainee's turns next to the game master's answers, then the real timeline."""
    lines = ["", "## Your path next to what really happened", "", "| turn | you | game master |", "|---|---|---|"]
    for t in session.turns:
        said = _cell(t.trainee, 80)
        answer = _cell(t.answer.split("\n")[0], 90)
        lines.append(f"| {t.n} ({t.kind}) | {said} | {answer} |")
    lines += ["", "The real timeline:", ""]
    lines += [f"- {item.text}" for item in scenario.truth.timeline]
    return lines


def _answer_lines(scenario: Scenario) -> list[str]:
    """The answer: root cause, contributing factors, what fixed it, and the sources."""
    truth = scenario.truth
    lines = ["", "## Root cause", "", truth.root_cause.strip(), ""]
    if truth.contributing_factors:
        repeated = re.search(r"contributing factors", truth.root_cause, re.I)
        heading = "Also contributing" if repeated else "Contributing factors"
        lines += [f"## {heading}", ""] + [f"- {f}" for f in truth.contributing_factors] + [""]
    lines += ["## What fixed it", "", truth.mitigation or "(not recorded)", ""]
    lines += ["## Sources", "", f"- incident: `{scenario.source_id}`"]
    if scenario.chat_id:
        lines.append(f"- chat log: `{scenario.chat_id}`")
    if truth.runbooks:
        lines.append("- runbooks that would have helped: " + ", ".join(f"`{r}`" for r in truth.runbooks))
    return lines

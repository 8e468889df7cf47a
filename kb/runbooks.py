"""Runbooks: cited drafts, update proposals from recent incidents, approved revisions, staleness.

- ``draft_runbook``: retrieve the runbooks, postmortems and chat logs about a topic or alert, take the
  steps of their triage / diagnosis / mitigation / verification / escalation sections (and the commands
  responders ran in chat logs, unless the log says they made things worse), merge steps that say the same
  thing, order them triage -> diagnosis -> mitigation -> verification -> escalation and cite each one.
  With an LLM, the model writes the steps from the same passages and its citations are checked.
- ``propose_update``: compare what responders did in incidents since the runbook's last revision with
  what it says; what it lacks becomes a cited, unified-diff proposal saved in the data directory.
- ``write_revision`` (used by ``ingest.revisions.apply_proposal``): the stored base text plus the reviewed
  diff becomes a new revision file; every revision is kept. Proposals are read only from the data
  directory's proposal store (``stored_proposal``); ``verify_revision`` tells ingest whether a file is the
  approved revision it claims to be (only that may take over a runbook's id).
- ``stale_runbooks``: runbooks whose services had incidents since the runbook last changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from kb.clients.openai_client import ChatModel
from kb.core.bounded import Refused, load_yaml
from kb.core.errors import KBError, NotFound, ProposalError
from kb.core.models import (
    Citation,
    Draft,
    DraftItem,
    DroppedItem,
    Kind,
    Passage,
    ProposalHunk,
    Record,
    Revision,
    RunbookProposal,
    StaleRunbook,
)
from kb.core.settings import Settings
from kb.generation.grounding import Evidence, References, indent_continuation, require_grounded
from kb.generation.guard import caution_note
from kb.generation.prompting import ask_for_lines
from kb.retrieval.alerts import AlertQuery
from kb.retrieval.search import Query, Searcher
from kb.text import unidiff
from kb.text.steps import (
    CAUTION,
    CHECK_FIRST,
    NEGATIVE_OUTCOME,
    RUNBOOK_MENTION,
    Span,
    clean_step,
    command_shapes,
    containment,
    has_command,
    is_change,
    sentences,
    similarity,
    split_steps,
    terms_of,
)

#: The sections of a runbook, in the order a responder works through them.
PHASES = ("overview", "symptoms", "triage", "diagnosis", "mitigation", "verification", "escalation")
HEADINGS = {
    "overview": "Overview",
    "symptoms": "Symptoms / alerts",
    "triage": "Triage",
    "diagnosis": "Diagnosis",
    "mitigation": "Mitigation",
    "verification": "Verification",
    "escalation": "Escalation",
}
#: Which document sections feed which runbook phase.
RUNBOOK_PHASE = {p: p for p in PHASES} | {"summary": "overview"}
POSTMORTEM_PHASE = {
    "summary": "overview",
    "detection": "symptoms",
    "mitigation": "mitigation",
    "resolution": "mitigation",
}
LIMITS = {
    "overview": 2,
    "symptoms": 6,
    "triage": 6,
    "diagnosis": 6,
    "mitigation": 8,
    "verification": 4,
    "escalation": 4,
}
MAX_STEP_CHARS = 1500
DUPLICATE = 0.5  # term Jaccard at which two steps count as the same step
COVERED_COMMAND = 0.5  # the same for commands, whose hosts and flags vary between incidents
COVERED = 0.6  # share of a candidate's terms a runbook step must have to count as already covering it


@dataclass
class Candidate:
    """A step found in a source document, before merging."""

    phase: str
    record: Record
    span: Span
    text: str
    rank: int
    caution: bool = False
    terms: set[str] = field(default_factory=set)
    merged: list[Candidate] = field(default_factory=list)

    def passage(self) -> Passage:
        return Passage(
            id="",
            doc_id=self.record.id,
            title=self.record.title,
            kind=self.record.kind,
            section=section_at(self.record, self.span.start),
            start=self.span.start,
            end=self.span.end,
            text=self.span.text,
            date=self.record.date,
        )

    def citation(self) -> Citation:
        return Citation(
            doc_id=self.record.id,
            section=section_at(self.record, self.span.start),
            start=self.span.start,
            end=self.span.end,
            quote=self.span.text[:240],
        )


def section_at(record: Record, offset: int) -> str:
    for section in record.sections:
        if section.start <= offset < section.end:
            return section.name
    return "chat" if record.kind == Kind.chat else "body"


# -- candidates from documents ----------------------------------------------------------------


def _section_steps(record: Record, names: dict[str, str]) -> list[tuple[str, Span]]:
    out: list[tuple[str, Span]] = []
    for section in record.sections:
        phase = names.get(section.name)
        if phase is None:
            continue
        text = record.text[section.start : section.end]
        steps = split_steps(text, section.start)
        if phase == "overview":
            steps = steps[:1]
        out.extend((phase, s) for s in steps if len(s.text) <= MAX_STEP_CHARS or has_command(s.text))
    return out


_SHELL_LINE = re.compile(r"^[ \t]*(?:```)?\$ (.+)$", re.M)


def _runbook_lead(text: str) -> int:
    """Where the words after "... runbook: " start (0: none), as ``re.match(r".*?\\b(?:runbook|playbook)\\b
    [^:]*:\\s*", text, re.I)`` would end, in one pass (that pattern rescans to the end from every mention)."""
    mention = RUNBOOK_MENTION.search(text)
    colon = text.find(":", mention.end()) if mention and "\n" not in text[: mention.start()] else -1
    if colon < 0:
        return 0
    end = colon + 1
    while end < len(text) and text[end].isspace():
        end += 1
    return end


def _chat_steps(record: Record) -> list[tuple[str, Span, bool]]:
    """Commands responders ran (the ``$ ...`` lines, not their output), as (phase, span, made things worse)."""
    out: list[tuple[str, Span, bool]] = []
    messages = record.messages
    for n, message in enumerate(messages):
        body = record.text[message.start : message.end]
        later = " ".join(m.text.split("\n", 1)[0] for m in messages[n + 1 : n + 4])
        worse = bool(NEGATIVE_OUTCOME.search(later))
        for match in _SHELL_LINE.finditer(body):
            start, end = message.start + match.start(1), message.start + match.end(1)
            command = record.text[start:end]
            out.append(("mitigation" if is_change(command) else "diagnosis", Span(start, end, command), worse))
    return out


def _postmortem_cautions(record: Record) -> list[tuple[str, Span, bool]]:
    """Sentences of lessons / contributing factors (and action items about the runbook) that tell responders
    what to check first or what not to do, as (phase, span, is a caution)."""
    out = []
    for section in record.sections:
        if section.name not in ("lessons", "contributing_factors", "action_items"):
            continue
        for step in split_steps(record.text[section.start : section.end], section.start):
            if section.name == "action_items" and not RUNBOOK_MENTION.search(step.text):
                continue
            for sentence in sentences(step):
                text = sentence.text
                lead = _runbook_lead(text)
                if lead:  # "Update the X runbook: check ..." -> "check ..."
                    sentence = Span(sentence.start + lead, sentence.end, text[lead:])
                if CAUTION.search(sentence.text):
                    out.append(("mitigation", sentence, True))
                elif CHECK_FIRST.search(sentence.text):
                    out.append(("triage", sentence, False))
    return out


def _show(text: str) -> str:
    shown = clean_step(text)
    return shown if len(shown) <= MAX_STEP_CHARS else shown[:MAX_STEP_CHARS].rstrip() + " ..."


def candidates_of(record: Record, rank: int, query_terms: set[str]) -> list[Candidate]:
    """The steps a document offers a runbook, with their phase."""
    found: list[Candidate] = []

    def add(phase: str, span: Span, caution: bool = False) -> None:
        found.append(Candidate(phase, record, span, _show(span.text), rank, caution, terms_of(span.text)))

    if record.kind == Kind.runbook:
        for phase, span in _section_steps(record, RUNBOOK_PHASE):
            add(phase, span)
    elif record.kind == Kind.postmortem:
        for phase, span in _section_steps(record, POSTMORTEM_PHASE):
            if phase == "mitigation":
                for sentence in sentences(span):
                    if has_command(sentence.text) or is_change(sentence.text):
                        add(phase, sentence)
            elif phase == "symptoms":
                add(phase, span)
            elif phase == "overview":
                first = sentences(span)[:2]
                if first:
                    add(phase, Span(first[0].start, first[-1].end, record.text[first[0].start : first[-1].end]))
        for phase, span, caution in _postmortem_cautions(record):
            add(phase, span, caution=caution)
    elif record.kind == Kind.chat:
        for phase, span, worse in _chat_steps(record):
            if not worse:
                add(phase, span)
    if record.kind != Kind.runbook and query_terms:
        # from incidents, keep what concerns the topic (or carries a command)
        found = [
            c
            for c in found
            if len(c.terms & query_terms) >= min(2, len(query_terms))
            or (record.kind == Kind.postmortem and (has_command(c.span.text) or c.caution))
        ]
    return found


def merge_duplicates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Steps that say the same thing become one step citing every source."""
    kept: list[Candidate] = []
    for cand in candidates:
        for other in kept:
            if other.phase == cand.phase and (
                similarity(cand.terms, other.terms) >= DUPLICATE
                or (min(len(cand.terms), len(other.terms)) >= 4 and containment(cand.terms, other.terms) >= 0.85)
            ):
                other.merged.append(cand)
                break
        else:
            kept.append(cand)
    return kept


# -- draft ------------------------------------------------------------------------------------


@dataclass
class _Sources:
    records: list[Record]
    scores: dict[str, float]


def _retrieve(searcher: Searcher, text: str, service: str | None, k_docs: int) -> _Sources:
    query = Query(
        text=text,
        k=max(10, k_docs * 2),
        kinds=(Kind.runbook, Kind.postmortem, Kind.chat),
        services=(service,) if service else (),
    )
    results = searcher.search(query)
    if not results:
        raise NotFound(f"nothing in the knowledge base about '{text[:80]}'" + (f" for {service}" if service else ""))
    top = results[0].score
    chosen = [r for r in results if r.score >= 0.4 * top][:k_docs]
    records = [searcher.store.get_record(r.record.id) for r in chosen]
    return _Sources(records, {r.record.id: r.score for r in chosen})


#: words of a topic that say it is a runbook, not what it is about
TOPIC_WORDS = terms_of("runbook playbook how to fix handle handling debug debugging troubleshoot troubleshooting")


def _require_about(searcher: Searcher, topic: str, records: Sequence[Record], service: str | None) -> None:
    """Refuse a topic the found documents are not about: words carrying at least half of its words'
    rarity must appear in them ("zzqx", or "kafka consumer lag" among payments-gateway's documents)."""
    words = terms_of(topic) - TOPIC_WORDS
    found = set().union(*(terms_of(r.title + " " + r.text) for r in records)) if records else set()
    if not words or searcher.keyword.covered(words, found) >= 0.5:
        return
    missing = sorted(words - found, key=lambda w: -searcher.keyword.rarity(w))
    where = f" among {service}'s documents" if service else ""
    raise NotFound(
        f"nothing in the knowledge base is about '{topic[:80]}'{where}: the closest documents never mention "
        + ", ".join(missing[:3])
        + ("; try without --service" if service else "")
    )


def _alert_items(records: Sequence[Record], evidence: Evidence, wanted: Sequence[str]) -> list[DraftItem]:
    items: list[DraftItem] = []
    seen: set[str] = set()
    names = list(wanted) + [a for r in records for a in r.alerts]
    for name in names:
        if name in seen:
            continue
        for record in records:
            at = record.text.find(name)
            citation = evidence.span_citation(record.id, at, at + len(name)) if at >= 0 else None
            if citation is not None:
                items.append(DraftItem(section="symptoms", text=f"Alert `{name}` fires.", citations=[citation]))
                seen.add(name)
                break
        if len(items) >= 4:
            break
    return items


def draft_runbook(
    searcher: Searcher,
    topic: str | None = None,
    *,
    alert: AlertQuery | None = None,
    service: str | None = None,
    llm: ChatModel | None = None,
    on_text: Callable[[str], None] | None = None,
    k_docs: int = 6,
) -> Draft:
    """A cited runbook draft for a topic or an alert."""
    text = " ".join(x for x in (topic, alert.text if alert else None) if x).strip()
    if not text:
        raise KBError("a runbook draft needs a topic or an alert")
    sources = _retrieve(searcher, text, service, k_docs)
    if topic and not alert:
        _require_about(searcher, topic, sources.records, service)
    query_terms = terms_of(text)
    candidates = [c for rank, r in enumerate(sources.records) for c in candidates_of(r, rank, query_terms)]
    if not candidates:
        raise NotFound(f"the documents about '{text[:80]}' hold no steps to build a runbook from")
    evidence = Evidence.numbered([c.passage() for c in candidates])
    title = f"Runbook draft: {topic or (alert.alertnames[0] if alert and alert.alertnames else text[:60])}"
    dropped: list[DroppedItem] = []
    if llm is None:
        items = _extractive_items(candidates)
        generator, model = "extractive", None
    else:
        reply = ask_for_lines(
            llm, "runbook_draft", evidence, PHASES, on_text=on_text, topic=text, service=service or ""
        )
        items, dropped = evidence.check_generated(reply.lines, PHASES)
        require_grounded(items, dropped, "runbook draft")
        items.sort(key=lambda i: PHASES.index(i.section))
        generator, model = "llm", llm.model
    items = [*_alert_items(sources.records, evidence, alert.alertnames if alert else ()), *items]
    items.sort(key=lambda i: PHASES.index(i.section))
    items, bad = evidence.check_items(items)
    dropped += bad
    require_grounded(items, dropped, "runbook draft")
    cited = list(dict.fromkeys(c.doc_id for i in items for c in i.citations))
    return Draft(
        title=title,
        markdown=render_runbook(title, items, dropped, sources.records, generator, model),
        generator=generator,
        model=model,
        items=items,
        dropped=dropped,
        sources=cited,
    )


def _extractive_items(candidates: list[Candidate]) -> list[DraftItem]:
    # best sources first within each phase, then document order
    overview_from = min((c.rank for c in candidates if c.phase == "overview"), default=-1)
    candidates = [c for c in candidates if c.phase != "overview" or c.rank == overview_from]
    ordered = sorted(candidates, key=lambda c: (PHASES.index(c.phase), c.caution is False, c.rank, c.span.start))
    merged = merge_duplicates(ordered)
    items: list[DraftItem] = []
    counts: dict[str, int] = {}
    for cand in merged:
        if counts.get(cand.phase, 0) >= LIMITS[cand.phase] + (2 if cand.caution else 0):
            continue
        counts[cand.phase] = counts.get(cand.phase, 0) + 1
        text = ("Caution: " + cand.text) if cand.caution else cand.text
        citations = [cand.citation(), *(m.citation() for m in cand.merged)]
        items.append(DraftItem(section=cand.phase, text=text, citations=list({c.start: c for c in citations}.values())))
    return items


def render_runbook(
    title: str,
    items: Sequence[DraftItem],
    dropped: Sequence[DroppedItem],
    records: Sequence[Record],
    generator: str,
    model: str | None,
) -> str:
    refs = References()
    lines = [f"# {title}", ""]
    if generator == "extractive":
        lines += [
            "> Assembled without an LLM from past runbooks, postmortems and chat logs: every step is quoted",
            "> from the passage it cites. Review it before anyone follows it.",
            "",
        ]
    else:
        lines += [f"> Drafted by {model}; every step cites the passages it rests on (checked). Review before use.", ""]
    for phase in PHASES:
        chosen = [i for i in items if i.section == phase]
        lines += [f"## {HEADINGS[phase]}", ""]
        if not chosen:
            lines += ["_No source covers this yet._", ""]
            continue
        numbered = phase in ("triage", "diagnosis", "mitigation", "verification")
        for n, item in enumerate(chosen, start=1):
            prefix = f"{n}. " if numbered else "- "
            marks = " ".join(x for x in (refs.marks(item.citations), caution_note(item.cautions)) if x)
            lines.append(indent_continuation(item.text.rstrip(), prefix, marks))
        lines.append("")
    if dropped:
        lines += ["## Dropped as ungrounded", ""]
        lines += [f"- {d.text[:160]!r}: {d.reason}" for d in dropped]
        lines.append("")
    titles = {r.id: r.title for r in records}
    used = {c.doc_id for i in items for c in i.citations}
    lines += ["## References", ""]
    lines += [f"- {line}" for line in refs.lines(titles)]
    lines += ["", "Drawn from:", ""]
    for record in records:
        if record.id in used:
            when = f", {record.date}" if record.date else ""
            lines.append(f"- `{record.id}` ({record.kind.value}{when}): {record.title}")
    return "\n".join(lines).rstrip() + "\n"


# -- update proposals --------------------------------------------------------------------------


def related_incidents(
    index: dict[str, dict[str, Any]], runbook: Record, since: dt.date | None
) -> list[tuple[str, dict[str, Any]]]:
    """Postmortems and chat logs dated on or after ``since`` that share a service or an alert with the
    runbook and that it does not already cite (by id or by date, "Postmortem 2024-07-22"), newest first."""
    services = {s.lower() for s in runbook.services}
    alerts = set(runbook.alerts)
    floor = int(since.strftime("%Y%m%d")) if since else 0
    out = []
    for rid, meta in index.items():
        if meta.get("kind") not in (Kind.postmortem.value, Kind.chat.value):
            continue
        when = int(meta.get("date_ord") or 0)
        if when < floor or (since and not when):
            continue
        theirs = {s.lower() for s in str(meta.get("services", "")).split("|") if s}
        their_alerts = {a for a in str(meta.get("alerts", "")).split("|") if a}
        if not (services & theirs or alerts & their_alerts):
            continue
        day = f"{when // 10000:04d}-{when // 100 % 100:02d}-{when % 100:02d}"
        if rid in runbook.text or (when and day in runbook.text):
            continue  # the runbook already tells of this incident
        out.append((rid, meta))
    return sorted(out, key=lambda kv: -int(kv[1].get("date_ord") or 0))


#: An incident concerns a runbook when keyword search for the runbook's title and main alert scores it at
#: least this share of what the runbook itself scores (an absolute bar would depend on query length).
CONCERNS = 0.4


def incidents_for(searcher: Searcher, runbook: Record, since: dt.date | None) -> list[str]:
    """Incidents since ``since`` that concern the runbook, newest first: they share a service or an alert with
    it, and either fired its main (first) alert or keyword search for its title and main alert finds them
    nearly as well as the runbook itself."""
    searcher.keyword.ensure_fresh()
    related = related_incidents(searcher.keyword.record_meta, runbook, since)
    if not related:
        return []
    query = Query(text=" ".join([runbook.title, *runbook.alerts[:1]]), k=50)
    scores = {d.record.id: d.score for d in searcher.search(query, mode="bm25", passages_per_doc=1)}
    bar = CONCERNS * scores.get(runbook.id, max(scores.values(), default=0.0))
    main_alert = runbook.alerts[0] if runbook.alerts else None
    return [
        rid
        for rid, meta in related
        if scores.get(rid, 0.0) >= bar > 0 or (main_alert and main_alert in str(meta.get("alerts", "")).split("|"))
    ]


def _runbook_steps(runbook: Record) -> list[set[str]]:
    return [terms_of(s.text) for s in split_steps(runbook.text)]


#: A step from an incident is about the runbook when its embedding (with the incident's title) is at least
#: this close to the runbook's title, overview and symptoms. Measured on the sample corpus: steps about the
#: runbook's failure mode score 0.55-0.7, steps about other failures in the same incident 0.2-0.5.
RELEVANT = 0.55


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / denom if denom else 0.0


def _update_candidates(searcher: Searcher, runbook: Record, incidents: Sequence[Record]) -> list[Candidate]:
    """What responders did or learned about the runbook's failure mode that it does not already say."""
    steps = _runbook_steps(runbook)
    commands = command_shapes(runbook.text)
    about = [runbook.text[s.start : s.end] for s in runbook.sections if s.name in ("overview", "symptoms")]
    profile_text = " ".join([runbook.title, *about])[:2000]
    found: list[Candidate] = []
    for rank, record in enumerate(incidents):
        for cand in candidates_of(record, rank, set()):
            if cand.phase in ("overview", "symptoms"):
                continue
            bar = COVERED_COMMAND if has_command(cand.span.text) else COVERED
            if any(containment(cand.terms, step) >= bar for step in steps):
                continue  # the runbook already says it
            shapes = command_shapes(cand.span.text)
            if shapes and shapes <= commands:
                continue  # the runbook already runs these commands (perhaps in another namespace)
            found.append(cand)
    if not found:
        return []
    embedding = searcher.embedding
    profile = embedding.get_text_embedding(profile_text)
    vectors = embedding.get_text_embedding_batch([f"{c.record.title}\n{c.text[:1000]}" for c in found])
    found = [c for c, v in zip(found, vectors, strict=True) if _cosine(profile, v) >= RELEVANT]
    ordered = sorted(found, key=lambda c: (c.rank, PHASES.index(c.phase), c.span.start))
    return merge_duplicates(ordered)[:8]


def _split_front(markdown: str) -> tuple[dict[str, Any], str]:
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", markdown, re.S)
    if not match:
        return {}, markdown
    try:
        front = load_yaml(match.group(1), "the front matter") or {}
    except (yaml.YAMLError, Refused):
        return {}, markdown
    return (front if isinstance(front, dict) else {}), markdown[match.end() :]


def _set_front_fields(markdown: str, fields: dict[str, Any]) -> str:
    """The Markdown with these front-matter fields set, every other line of the front matter as written
    (so the file differs from the approved diff only by these bookkeeping lines)."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", markdown, re.S)
    lines = match.group(1).split("\n") if match else []
    body = markdown[match.end() :] if match else markdown
    for key, value in fields.items():
        line = yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False).strip()
        at = next((n for n, old in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", old)), None)
        if at is None:
            lines.append(line)
        else:
            lines[at] = line
    return "---\n" + "\n".join(lines) + "\n---\n" + body


def runbook_markdown(record: Record) -> str:
    """The runbook as a Markdown file: its front matter and its (redacted) text."""
    front = dict(record.front_matter)
    body = record.text
    if record.front_matter_text:  # as written, so a diff against the file applies to it
        return "---\n" + record.front_matter_text + "---\n" + body
    if not front:
        return body if body.endswith("\n") else body + "\n"
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n" + body


def _reviewed_on(markdown: str, day: dt.date) -> str:
    """The Markdown with its front matter's ``last_reviewed`` set to ``day``, changing only that line (or
    adding it at the end of the front matter)."""
    match = re.match(r"^---\s*\n(.*?\n)---\s*\n", markdown, re.S)
    if not match:
        return markdown
    block = match.group(1)
    line = f"last_reviewed: {day.isoformat()}"
    if re.search(r"^last_reviewed:.*$", block, re.M):
        block = re.sub(r"^last_reviewed:.*$", line, block, count=1, flags=re.M)
    else:
        block += line + "\n"
    return "---\n" + block + "---\n" + markdown[match.end() :]


def _insert(body: str, runbook: Record, additions: dict[str, list[str]]) -> str:
    """The body with each phase's new lines appended to the end of that phase's section (or a new one)."""
    inserts: list[tuple[int, str]] = []
    for phase, lines in additions.items():
        block = "\n".join(lines) + "\n"
        target = next((s for s in reversed(runbook.sections) if s.name == phase), None)
        for fallback in {"triage": ("diagnosis",), "diagnosis": ("triage",), "verification": ()}.get(phase, ()):
            target = target or next((s for s in reversed(runbook.sections) if s.name == fallback), None)
        if target is not None:
            end = target.end
            prefix = "" if body[:end].endswith("\n\n") else ("\n" if body[:end].endswith("\n") else "\n\n")
            inserts.append((end, prefix + block + ("\n" if end < len(body) else "")))
        else:
            refs = next((s for s in runbook.sections if s.name == "references"), None)
            at = refs.start if refs else len(body)
            inserts.append((at, f"## {HEADINGS[phase]}\n\n{block}\n"))
    for at, text in sorted(inserts, key=lambda x: -x[0]):
        body = body[:at] + text + body[at:]
    return body


def propose_update(
    settings: Settings,
    searcher: Searcher,
    runbook_id: str,
    since: dt.date | None = None,
    llm: ChatModel | None = None,
    now: dt.datetime | None = None,
) -> RunbookProposal:
    """A cited proposal to bring a runbook up to date with recent incidents (saved, not applied)."""
    store = searcher.store
    runbook = store.get_record(runbook_id)
    if runbook.kind != Kind.runbook:
        raise KBError(f"'{runbook_id}' is a {runbook.kind.value}, not a runbook")
    since = since or runbook.date
    incidents = [store.get_record(rid) for rid in incidents_for(searcher, runbook, since)]
    candidates = _update_candidates(searcher, runbook, incidents)
    evidence = Evidence.numbered([c.passage() for c in candidates])
    dropped: list[DroppedItem] = []
    generator = "extractive"
    if candidates and llm is not None:
        reply = ask_for_lines(llm, "runbook_update", evidence, PHASES[2:], title=runbook.title)
        items, dropped = evidence.check_generated(reply.lines, PHASES[2:])
        require_grounded(items, dropped, "runbook update")
        generator = "llm"
    else:
        items = [
            DraftItem(
                section=c.phase,
                text=("Caution: " if c.caution else "") + c.text,
                citations=[c.citation(), *(m.citation() for m in c.merged)],
            )
            for c in candidates
        ]
    items, bad = evidence.check_items(items)
    dropped += bad
    stamp = now or dt.datetime.now(dt.UTC)
    old = runbook_markdown(runbook)
    front, body = _split_front(old)
    additions: dict[str, list[str]] = {}
    for item in items:
        sources = ", ".join(dict.fromkeys(f"{c.doc_id} ({c.section})" for c in item.citations))
        line = indent_continuation(item.text, "- ", " ".join(x for x in (f"_(learned from {sources})_",
                                                                           caution_note(item.cautions)) if x))
        additions.setdefault(item.section, []).append(line)
    new = old
    if additions:
        new = old[: len(old) - len(body)] + _insert(body, runbook, additions)
        if front:
            new = _reviewed_on(new, stamp.date())
    diff = unidiff.make(old, new, f"{runbook_id}.md")
    proposal = RunbookProposal(
        runbook_id=runbook_id,
        title=runbook.title,
        base_hash=runbook.content_hash,
        since=since,
        created=stamp,
        generator=generator,
        diff=diff,
        hunks=_hunks(unidiff.lines_of(diff), items),
        items=items,
        dropped=dropped,
        sources=list(dict.fromkeys(c.doc_id for i in items for c in i.citations)),
        old_markdown=old,
        new_markdown=new,
    )
    if items:
        proposal.path = str(_save_proposal(settings, proposal))
    return proposal


def _hunks(diff_lines: Sequence[str], items: Sequence[DraftItem]) -> list[ProposalHunk]:
    hunks: list[list[str]] = []
    for line in diff_lines:
        if line.startswith("@@"):
            hunks.append([line])
        elif hunks:
            hunks[-1].append(line)
    out = []
    for hunk in hunks:
        text = "".join(hunk)
        added = "".join(line[1:] for line in hunk if line.startswith("+"))
        citations = [
            c for item in items if item.text.split("\n", 1)[0][:80] in added for c in item.citations
        ]
        out.append(ProposalHunk(text=text, citations=citations))
    return out


#: What a proposal id and a runbook id look like (syntax only): ids name files, so no separators or dots.
PROPOSAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")
RUNBOOK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,199}")
MAX_PROPOSAL_BYTES = 20 * 1024 * 1024


def proposals_dir(settings: Settings) -> Path:
    """The proposal store: the only place proposals are applied from."""
    return settings.data_dir / "proposals"


def revisions_dir(settings: Settings) -> Path:
    """Approved runbook revisions live here (and are ingested from here)."""
    return settings.data_dir / "runbooks"


def history_dir(settings: Settings, runbook_id: str) -> Path:
    return settings.data_dir / "runbook-history" / runbook_id


def revision_file(settings: Settings, runbook_id: str) -> Path:
    """Where the current approved revision of a runbook lives (resolved, as ingest sees it)."""
    return revisions_dir(settings).resolve() / f"{runbook_id}.md"


def _save_proposal(settings: Settings, proposal: RunbookProposal) -> Path:
    folder = proposals_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{proposal.runbook_id}-{proposal.created.strftime('%Y%m%dT%H%M%S')}.json"
    proposal.path = str(path)
    proposal.id = path.stem
    path.write_text(proposal.model_dump_json(indent=2), encoding="utf-8")
    return path


def proposal_file(settings: Settings, ref: str, paths: bool = True) -> Path:
    """The file of the stored proposal ``ref`` names: a proposal id (what ``kb runbook update`` prints) or,
    with ``paths``, the path of a file in the proposal store. Anything that resolves elsewhere (another
    folder, ``..``, a link out of the store) is refused."""
    store = proposals_dir(settings).resolve()
    if any(sep in ref for sep in ("/", "\\")) or ref.endswith(".json") or ref.startswith("."):
        if not paths:
            raise ProposalError(f"'{ref}': give a proposal id (as `kb runbook update` prints it), not a file path")
        path = Path(ref).expanduser()
    elif PROPOSAL_ID.fullmatch(ref):
        path = store / f"{ref}.json"
    else:
        raise ProposalError(f"'{ref}' is not a proposal id (letters, digits, '-' and '_', as `kb runbook update` "
                            "prints it)")
    resolved = path.resolve()
    if resolved.parent != store or resolved.suffix != ".json" or not PROPOSAL_ID.fullmatch(resolved.stem):
        raise ProposalError(f"{ref}: not in the proposal store ({store}); only proposals saved by `kb runbook "
                            "update` are applied")
    return resolved


def stored_proposal(settings: Settings, ref: str, paths: bool = True) -> RunbookProposal:
    """A proposal from the data directory's proposal store (see ``proposal_file``); its id and path are
    where it was read from, whatever the file says."""
    path = proposal_file(settings, ref, paths)
    proposal = load_proposal(path)
    proposal.path, proposal.id = str(path), path.stem
    return proposal


def load_proposal(path: Path) -> RunbookProposal:
    try:
        if path.stat().st_size > MAX_PROPOSAL_BYTES:
            raise ProposalError(f"{path}: too large for a runbook proposal ({path.stat().st_size} bytes)")
        return RunbookProposal.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProposalError(f"{path}: no such proposal") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'the file'}: {e['msg']}" for e in exc.errors()[:3]
        )
        raise ProposalError(f"{path}: not a runbook proposal ({problems})") from exc
    except (OSError, ValueError) as exc:
        raise ProposalError(f"{path}: cannot read the proposal ({exc})") from exc


# -- revisions ---------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def history(settings: Settings, runbook_id: str) -> list[Revision]:
    """Every saved revision of a runbook, oldest first (empty when it was never revised here)."""
    if not RUNBOOK_ID.fullmatch(runbook_id):
        return []
    log = history_dir(settings, runbook_id) / "history.json"
    if not log.exists():
        return []
    try:
        return [Revision.model_validate(r) for r in json.loads(log.read_text(encoding="utf-8"))]
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise ProposalError(f"{log}: the revision history cannot be read ({type(exc).__name__})") from exc


def verify_revision(settings: Settings, path: Path) -> str:
    """The source key an approved revision file supersedes. Raises ProposalError unless ``path`` is a
    runbook's current revision file in the data directory (``runbooks/ID.md``, not a link) and its bytes
    are the last revision ``kb runbook apply`` recorded in that runbook's history (by SHA-256)."""
    runbook_id = path.stem
    if not RUNBOOK_ID.fullmatch(runbook_id) or path != revision_file(settings, runbook_id) or path.is_symlink():
        raise ProposalError("not an approved revision: approved revisions are runbooks/ID.md in the data directory")
    revisions = history(settings, runbook_id)
    if not revisions:
        raise ProposalError(f"not an approved revision: no revision of '{runbook_id}' was ever applied here")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProposalError(f"not an approved revision: cannot read it ({exc.strerror})") from exc
    if hashlib.sha256(data).hexdigest() != revisions[-1].content_sha256:
        raise ProposalError(
            f"not an approved revision: it does not match its revision history (r{revisions[-1].number} of "
            f"'{runbook_id}' was recorded with another text; was it edited by hand?)"
        )
    front, _ = _split_front(data.decode("utf-8"))
    return str(front.get("supersedes") or "")


def write_revision(
    settings: Settings, proposal: RunbookProposal, current: Record, now: dt.datetime | None = None
) -> Path:
    """Save the stored base text plus the proposal's diff as the runbook's current file and as a numbered
    revision; keep the previous one. Refuses a proposal made against another version of the runbook, one
    whose diff does not apply exactly, and one whose stored new text is not base + diff (what a reviewer of
    the diff approved). Returns the current file."""
    if not RUNBOOK_ID.fullmatch(proposal.runbook_id) or proposal.runbook_id != current.id:
        raise ProposalError(f"the proposal names '{proposal.runbook_id[:80]}', not a runbook id")
    if not proposal.diff:
        raise ProposalError(f"the proposal for '{proposal.runbook_id}' changes nothing")
    applied = [r for r in history(settings, proposal.runbook_id) if proposal.path and r.proposal == proposal.path]
    done = applied[0] if applied else None
    if done is not None:
        raise ProposalError(
            f"this proposal was already applied to '{proposal.runbook_id}' as revision {done.number} "
            f"({done.created:%Y-%m-%d %H:%M} UTC); see `kb runbook history {proposal.runbook_id}`"
        )
    if current.content_hash != proposal.base_hash:
        raise ProposalError(
            f"'{proposal.runbook_id}' changed since this proposal was made; run `kb runbook update "
            f"{proposal.runbook_id}` again"
        )
    base = runbook_markdown(current)
    if proposal.old_markdown != base:
        raise ProposalError(f"the proposal's base text is not the stored text of '{proposal.runbook_id}'; run "
                            f"`kb runbook update {proposal.runbook_id}` again")
    new = unidiff.apply(base, proposal.diff)
    if new != proposal.new_markdown:
        raise ProposalError(
            f"the proposal's new text differs from base + its diff (what a reviewer of the diff approved); "
            f"refused. Run `kb runbook update {proposal.runbook_id}` again"
        )
    stamp = now or dt.datetime.now(dt.UTC)
    folder = history_dir(settings, proposal.runbook_id)
    folder.mkdir(parents=True, exist_ok=True)
    revisions = history(settings, proposal.runbook_id)
    if not revisions:  # keep the version the proposal started from as revision 1
        first = folder / "r0001.md"
        first.write_text(base, encoding="utf-8")
        revisions.append(
            Revision(
                number=1,
                created=stamp,
                path=str(first),
                content_sha256=_sha(base),
                note=f"as ingested from {current.source_path}",
            )
        )
    number = revisions[-1].number + 1
    snapshot = folder / f"r{number:04d}.md"
    target = revision_file(settings, proposal.runbook_id)
    # a runbook revised before keeps superseding the original source; the first revision supersedes it
    revised = Path(current.source_path) == target and current.front_matter.get("supersedes")
    supersedes = current.supersedes or (str(current.front_matter["supersedes"]) if revised else current.source_key)
    text = _set_front_fields(new, {"supersedes": supersedes, "revision": number})
    snapshot.write_text(text, encoding="utf-8")
    revisions.append(
        Revision(
            number=number,
            created=stamp,
            path=str(snapshot),
            proposal=proposal.path or None,
            content_sha256=_sha(text),
            note=f"{len(proposal.items)} changes from {', '.join(proposal.sources)}",
        )
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    (folder / "history.json").write_text(
        json.dumps([r.model_dump(mode="json") for r in revisions], indent=2), encoding="utf-8"
    )
    return target


# -- staleness ---------------------------------------------------------------------------------


def stale_runbooks(searcher: Searcher) -> list[StaleRunbook]:
    """Runbooks with incidents about their services or alerts since they last changed, most stale first."""
    searcher.keyword.ensure_fresh()
    index = searcher.keyword.record_meta
    out: list[StaleRunbook] = []
    for rid, meta in list(index.items()):
        if meta.get("kind") != Kind.runbook.value:
            continue
        runbook = searcher.store.get_record(rid)
        if runbook.date is None:
            continue
        wanted = set(incidents_for(searcher, runbook, runbook.date))
        related = [(other, m) for other, m in related_incidents(index, runbook, runbook.date) if other in wanted]
        # a postmortem and the chat log of the same incident count once (same day)
        days: dict[int, tuple[str, dict[str, Any]]] = {}
        for other, other_meta in related:
            day = int(other_meta.get("date_ord") or 0)
            if day not in days or other_meta.get("kind") == Kind.postmortem.value:
                days[day] = (other, other_meta)
        if not days:
            continue
        newest_day = max(days)
        newest_id, _ = days[newest_day]
        out.append(
            StaleRunbook(
                runbook_id=rid,
                title=runbook.title,
                last_changed=runbook.date,
                incidents=len(days),
                newest_incident=newest_id,
                newest_date=dt.date(newest_day // 10000, newest_day // 100 % 100, newest_day % 100),
                incident_ids=[days[d][0] for d in sorted(days, reverse=True)],
            )
        )
    return sorted(out, key=lambda s: (-s.incidents, s.last_changed or dt.date.min))

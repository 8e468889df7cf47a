"""Update proposals: compare what responders did in incidents since a runbook's last revision with what it
says; what it lacks becomes a cited, unified-diff proposal saved in the data directory's proposal store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from kb.clients.openai_client import ChatModel
from kb.core.drafts import ProposalHunk, RunbookProposal
from kb.core.enums import Generator, SectionName
from kb.core.errors import KBError
from kb.core.models import DraftItem, DroppedItem, Kind, Record
from kb.core.settings import Settings
from kb.generation.grounding import Evidence, indent_continuation
from kb.generation.guard import caution_note
from kb.generation.prompting import grounded_lines
from kb.retrieval.corpus import Corpus
from kb.runbooks.candidates import HEADINGS, PHASES, Candidate, candidates_of, merge_duplicates
from kb.runbooks.course import courses, qualified
from kb.runbooks.proposals import save_proposal
from kb.runbooks.revisions import runbook_markdown
from kb.runbooks.stale import incidents_for
from kb.text import unidiff
from kb.text.front_matter import set_front_fields, split_front
from kb.text.steps import command_shapes, containment, has_command, split_steps, terms_of

COVERED = 0.6  # share of a candidate's terms a runbook step must have to count as already covering it
COVERED_COMMAND = 0.5  # the same for commands, whose hosts and flags vary between incidents


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


def _update_candidates(corpus: Corpus, runbook: Record, incidents: Sequence[Record]) -> list[Candidate]:
    """What responders did or learned about the runbook's failure mode that it does not already say."""
    steps = _runbook_steps(runbook)
    commands = command_shapes(runbook.text)
    about = [runbook.text[s.start : s.end] for s in runbook.sections
             if s.name in (SectionName.overview, SectionName.symptoms)]
    profile_text = " ".join([runbook.title, *about])[:2000]
    found: list[Candidate] = []
    not_advised = {c.record.id: c.not_advised() for c in courses(incidents)}
    for rank, record in enumerate(incidents):
        for cand in candidates_of(record, rank, set(), not_advised.get(record.id, [])):
            if cand.phase in (SectionName.overview, SectionName.symptoms):
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
    profile = corpus.embed_text(profile_text)
    vectors = corpus.embed_texts([f"{c.record.title}\n{c.text[:1000]}" for c in found])
    found = [c for c, v in zip(found, vectors, strict=True) if _cosine(profile, v) >= RELEVANT]
    ordered = sorted(found, key=lambda c: (c.rank, PHASES.index(c.phase), c.span.start))
    return merge_duplicates(ordered)[:8]


#: where a phase's new lines go when the runbook has no section of that phase
FALLBACK_SECTIONS: dict[str, tuple[SectionName, ...]] = {
    SectionName.triage: (SectionName.diagnosis,),
    SectionName.diagnosis: (SectionName.triage,),
}


def _caution_places(corpus: Corpus, runbook: Record, items: Sequence[DraftItem]) -> dict[int, int]:
    """Where each caution goes (item index -> offset in the runbook's text): right before the first step of its
    phase's section that it qualifies (related in meaning), so it is read before that step, never after."""
    places: dict[int, int] = {}
    cautions = [(n, i) for n, i in enumerate(items) if i.text.startswith("Caution:")]
    for n, item in cautions:
        section = next((s for s in runbook.sections if s.name == item.section), None)
        steps = split_steps(runbook.text[section.start : section.end], section.start) if section else []
        if not steps:
            continue
        vectors = corpus.embed_texts([item.text, *(s.text[:600] for s in steps)])
        at = qualified(vectors[0], vectors[1:])
        if at is not None:
            places[n] = steps[at].start
    return places


def _insert(body: str, runbook: Record, additions: dict[str, list[str]], before: dict[int, str] | None = None) -> str:
    """The body with each phase's new lines appended to the end of that phase's section (or a new one), and
    each line of ``before`` (offset -> line) placed right before the step at that offset."""
    inserts: list[tuple[int, str]] = [(at, lines + "\n") for at, lines in (before or {}).items()]
    for phase, lines in additions.items():
        block = "\n".join(lines) + "\n"
        target = next((s for s in reversed(runbook.sections) if s.name == phase), None)
        for fallback in FALLBACK_SECTIONS.get(phase, ()):
            target = target or next((s for s in reversed(runbook.sections) if s.name == fallback), None)
        if target is not None:
            end = target.end
            prefix = "" if body[:end].endswith("\n\n") else ("\n" if body[:end].endswith("\n") else "\n\n")
            inserts.append((end, prefix + block + ("\n" if end < len(body) else "")))
        else:
            refs = next((s for s in runbook.sections if s.name == SectionName.references), None)
            at = refs.start if refs else len(body)
            inserts.append((at, f"## {HEADINGS[phase]}\n\n{block}\n"))
    for at, text in sorted(inserts, key=lambda x: -x[0]):
        body = body[:at] + text + body[at:]
    return body


def propose_update(
    settings: Settings,
    corpus: Corpus,
    runbook_id: str,
    since: dt.date | None = None,
    llm: ChatModel | None = None,
    now: dt.datetime | None = None,
) -> RunbookProposal:
    """A cited proposal to bring a runbook up to date with recent incidents (saved, not applied)."""
    runbook = corpus.record(runbook_id)
    if runbook.kind != Kind.runbook:
        raise KBError(f"'{runbook_id}' is a {runbook.kind.value}, not a runbook")
    since = since or runbook.date
    incidents = [corpus.record(rid) for rid in incidents_for(corpus, runbook, since)]
    candidates = _update_candidates(corpus, runbook, incidents)
    items, dropped, generator, note = _proposed_items(runbook, candidates, llm)
    stamp = now or dt.datetime.now(dt.UTC)
    old = runbook_markdown(runbook)
    new = _revised_markdown(old, runbook, items, stamp.date(), _caution_places(corpus, runbook, items))
    diff = unidiff.make(old, new, f"{runbook_id}.md")
    proposal = RunbookProposal(
        runbook_id=runbook_id,
        title=runbook.title,
        base_hash=runbook.content_hash,
        since=since,
        created=stamp,
        generator=generator,
        note=note,
        diff=diff,
        hunks=_hunks(unidiff.lines_of(diff), items),
        items=items,
        dropped=dropped,
        sources=list(dict.fromkeys(c.doc_id for i in items for c in i.citations)),
        old_markdown=old,
        new_markdown=new,
    )
    if items:
        proposal.path = str(save_proposal(settings, proposal))
    return proposal


def _proposed_items(
    runbook: Record, candidates: Sequence[Candidate], llm: ChatModel | None
) -> tuple[list[DraftItem], list[DroppedItem], Generator, str | None]:
    """The proposal's cited lines (written by the LLM when there is one), those dropped, who wrote them, and
    why the LLM's reply was set aside for the offline lines when it could not be used."""
    evidence = Evidence.numbered([c.passage() for c in candidates])
    dropped: list[DroppedItem] = []
    items: list[DraftItem] = []
    generator, note = Generator.extractive, None
    if candidates and llm is not None:
        items, dropped, note = grounded_lines(llm, "runbook_update", evidence, PHASES[2:], "runbook update",
                                              title=runbook.title)
        generator = Generator.extractive if note else Generator.llm
    if generator == Generator.extractive:
        items = [
            DraftItem(
                section=c.phase,
                text=("Caution: " if c.caution else "") + c.text,
                citations=[c.citation(), *(m.citation() for m in c.merged)],
            )
            for c in candidates
        ]
    items, bad = evidence.check_items(items)
    return items, dropped + bad, generator, note


def _revised_markdown(
    old: str, runbook: Record, items: Sequence[DraftItem], reviewed: dt.date, places: dict[int, int] | None = None
) -> str:
    """The runbook's Markdown with each item added under its phase (and last_reviewed set), or unchanged; a
    caution with a place goes right before the step it qualifies."""
    front, body = split_front(old)
    additions: dict[str, list[str]] = {}
    before: dict[int, str] = {}
    for n, item in enumerate(items):
        sources = ", ".join(dict.fromkeys(f"{c.doc_id} ({c.section})" for c in item.citations))
        line = indent_continuation(item.text, "- ", " ".join(x for x in (f"_(learned from {sources})_",
                                                                           caution_note(item.cautions)) if x))
        if places and n in places:
            before[places[n]] = before.get(places[n], "") + line + "\n"
        else:
            additions.setdefault(item.section, []).append(line)
    if not additions and not before:
        return old
    new = old[: len(old) - len(body)] + _insert(body, runbook, additions, before)
    if front:
        new = set_front_fields(new, {"last_reviewed": reviewed})
    return new


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

"""Cited runbook drafts: retrieve the runbooks, postmortems and chat logs about a topic or alert, take their
steps (``kb.runbooks.candidates``), order them triage -> diagnosis -> mitigation -> verification ->
escalation and cite each one. With an LLM, the model writes the steps from the same passages and its
citations are checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kb.clients.openai_client import ChatModel
from kb.core.drafts import Draft
from kb.core.enums import Generator, SectionName
from kb.core.errors import KBError, NotFound
from kb.core.models import DraftItem, DroppedItem, Kind, Record
from kb.generation.grounding import Evidence, References, indent_continuation, require_grounded
from kb.generation.guard import caution_note
from kb.generation.prompting import grounded_lines
from kb.retrieval.alerts import AlertQuery
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query
from kb.runbooks.candidates import HEADINGS, LIMITS, PHASES, Candidate, candidates_of, merge_duplicates
from kb.runbooks.course import advise, cosine, courses, qualified
from kb.text.steps import clean_step, terms_of


@dataclass
class _Sources:
    records: list[Record]
    scores: dict[str, float]


def _retrieve(corpus: Corpus, text: str, service: str | None, k_docs: int) -> _Sources:
    query = Query(
        text=text,
        k=max(10, k_docs * 2),
        kinds=(Kind.runbook, Kind.postmortem, Kind.chat),
        services=(service,) if service else (),
    )
    results = corpus.search(query)
    if not results:
        raise NotFound(f"nothing in the knowledge base about '{text[:80]}'" + (f" for {service}" if service else ""))
    top = results[0].score
    chosen = [r for r in results if r.score >= 0.4 * top][:k_docs]
    records = [corpus.record(r.record.id) for r in chosen]
    return _Sources(records, {r.record.id: r.score for r in chosen})


#: words of a topic that say it is a runbook, not what it is about
#: phases whose steps are done in order, so numbered
NUMBERED = (SectionName.triage, SectionName.diagnosis, SectionName.mitigation, SectionName.verification)
TOPIC_WORDS = terms_of("runbook playbook how to fix handle handling debug debugging troubleshoot troubleshooting")


def _require_about(corpus: Corpus, topic: str, records: Sequence[Record], service: str | None) -> None:
    """Refuse a topic the found documents are not about: words carrying at least half of its words'
    rarity must appear in them ("zzqx", or "kafka consumer lag" among payments-gateway's documents)."""
    words = terms_of(topic) - TOPIC_WORDS
    found = set().union(*(terms_of(r.title + " " + r.text) for r in records)) if records else set()
    if not words or corpus.covered(words, found) >= 0.5:
        return
    missing = sorted(words - found, key=lambda w: -corpus.rarity(w))
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
                items.append(
                    DraftItem(section=SectionName.symptoms, text=f"Alert `{name}` fires.", citations=[citation])
                )
                seen.add(name)
                break
        if len(items) >= 4:
            break
    return items


def draft_runbook(
    corpus: Corpus,
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
    sources = _retrieve(corpus, text, service, k_docs)
    if topic and not alert:
        _require_about(corpus, topic, sources.records, service)
    query_terms = terms_of(text)
    records = _about_topic(corpus, text, sources.records)
    found = courses(records)
    harmful = {c.record.id: c.not_advised() for c in found}
    candidates = [
        c for rank, r in enumerate(records) for c in candidates_of(r, rank, query_terms, harmful.get(r.id, []))
    ]
    if not candidates:
        raise NotFound(f"the documents about '{text[:80]}' hold no steps to build a runbook from")
    _keep_whole(candidates)
    candidates = advise(corpus, found, candidates)
    passages = [c.passage() for c in candidates] + [m.passage() for c in candidates for m in c.merged]
    evidence = Evidence.numbered(passages)
    title = f"Runbook draft: {topic or (alert.alertnames[0] if alert and alert.alertnames else text[:60])}"
    items, dropped, note = ([], [], None) if llm is None else grounded_lines(
        llm, "runbook_draft", evidence, PHASES, "runbook draft", on_text=on_text, topic=text, service=service or "")
    generator, model = (Generator.llm, llm.model) if llm and items else (Generator.extractive, None)
    if generator == Generator.extractive:
        items = _extractive_items(corpus, candidates)
    items = [*_alert_items(records, evidence, alert.alertnames if alert else ()), *items]
    items.sort(key=lambda i: PHASES.index(i.section))
    items, bad = evidence.check_items(items)
    dropped += bad
    require_grounded(items, dropped, "runbook draft")
    cited = list(dict.fromkeys(c.doc_id for i in items for c in i.citations))
    return Draft(title=title, markdown=render_runbook(title, items, dropped, records, generator, model, note=note),
                 generator=generator, model=model, items=items, dropped=dropped, sources=cited, note=note)


#: a document is about the topic when its title and opening are within this of the closest one's similarity
RELATED_MARGIN = 0.15


def _opening(record: Record) -> str:
    about = [record.text[s.start : s.end] for s in record.sections
             if s.name in (SectionName.overview, SectionName.summary, SectionName.symptoms, SectionName.body)]
    return (" ".join(about) or record.text)[:600]


def _about_topic(corpus: Corpus, text: str, records: Sequence[Record]) -> list[Record]:
    """The documents about the topic's service and failure, by meaning: those whose title and opening are
    nearly as close to the topic as the closest document's (a Redis runbook does not feed a Postgres draft)."""
    if len(records) < 2:
        return list(records)
    vectors = corpus.embed_texts([text, *(f"{r.title}\n{_opening(r)}" for r in records)])
    sims = [cosine(vectors[0], v) for v in vectors[1:]]
    best = max(sims)
    return [r for r, sim in zip(records, sims, strict=True) if sim >= best - RELATED_MARGIN]


def _keep_whole(candidates: Sequence[Candidate]) -> None:
    """The best runbook's own blocks are kept whole, with their commands, and never dropped for room."""
    best = min((c.rank for c in candidates if c.record.kind == Kind.runbook), default=None)
    for cand in candidates:
        if cand.rank == best and cand.record.kind == Kind.runbook:
            cand.whole = True
            cand.text = clean_step(cand.span.text)


def _extractive_items(corpus: Corpus, candidates: list[Candidate]) -> list[DraftItem]:
    # the fix that worked first, then the best runbook's own procedure in its order, then other sources by rank
    overview_from = min((c.rank for c in candidates if c.phase == SectionName.overview), default=-1)
    candidates = [c for c in candidates if c.phase != SectionName.overview or c.rank == overview_from]
    ordered = sorted(candidates, key=lambda c: (PHASES.index(c.phase), not c.fix, not c.whole, c.rank, c.span.start))
    merged = merge_duplicates(ordered)
    chosen: list[Candidate] = []
    counts: dict[str, int] = {}
    for cand in merged:
        if not cand.whole and counts.get(cand.phase, 0) >= LIMITS[cand.phase] + (2 if cand.caution else 0):
            continue
        counts[cand.phase] = counts.get(cand.phase, 0) + 1
        chosen.append(cand)
    items: list[DraftItem] = []
    for cand in _cautions_first(corpus, chosen):
        text = ("Caution: " + cand.text) if cand.caution else cand.text
        citations = [cand.citation(), *(m.citation() for m in cand.merged)]
        items.append(DraftItem(section=cand.phase, text=text, citations=list({c.start: c for c in citations}.values())))
    return items


def _cautions_first(corpus: Corpus, chosen: list[Candidate]) -> list[Candidate]:
    """Each caution placed right before the step it qualifies (the step of its phase closest to it in
    meaning), or first in its phase; a step turned into a caution stays where it was."""
    steps = [c for c in chosen if not c.caution or c.harmful]
    cautions = [c for c in chosen if c.caution and not c.harmful]
    if not cautions:
        return steps
    vectors = corpus.embed_texts([c.text[:600] for c in [*cautions, *steps]])
    near = dict(zip(map(id, [*cautions, *steps]), vectors, strict=True))
    for caution in cautions:
        same = [s for s in steps if s.phase == caution.phase and not s.fix and not s.caution]
        at = qualified(near[id(caution)], [near[id(s)] for s in same])
        target = same[at] if at is not None else next((s for s in steps if s.phase == caution.phase and not s.fix),
                                                      None)
        target = target or next((s for s in steps if PHASES.index(s.phase) > PHASES.index(caution.phase)), None)
        steps.insert(steps.index(target) if target is not None else len(steps), caution)
    return steps


def render_runbook(
    title: str,
    items: Sequence[DraftItem],
    dropped: Sequence[DroppedItem],
    records: Sequence[Record],
    generator: Generator,
    model: str | None,
    refs: References | None = None,
    note: str | None = None,
) -> str:
    """The draft as Markdown: a section per phase, each step followed by its citation marks, then the references
    (``refs`` numbers and writes the marks; a page passes one whose marks link to the passages)."""
    refs = refs or References()
    lines = [f"# {title}", ""] + ([f"> {note}", ""] if note else [])
    if generator == Generator.extractive:
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
        numbered = phase in NUMBERED
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

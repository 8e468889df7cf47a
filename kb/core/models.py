"""The records the whole product passes around: documents, chunks, hits, ranked results, citations and
game-day scenarios.

Every object a shell shows or a later step consumes is one of these pydantic models, so the
JSON a script reads (``--json``) is the model's own serialisation. The documents generation hands back
(drafts, runbook proposals, revisions) are in ``kb.core.drafts``; an ingest run's report in ``kb.core.reports``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field

from kb.core.enums import ActionKind, Outcome, RubricKind


class Kind(StrEnum):
    """What a document is; decides which sections are expected and how it is chunked."""

    postmortem = "postmortem"
    runbook = "runbook"
    chat = "chat"
    document = "document"


class Section(BaseModel):
    """A titled span of a record's text."""

    name: str = Field(description="Canonical section name (e.g. 'root_cause', 'mitigation'), or 'body'.")
    heading: str = Field(description="The heading as written in the document ('' for text before any).")
    start: int = Field(description="Offset of the section's first character in Record.text.")
    end: int = Field(description="Offset one past the section's last character in Record.text.")


class Message(BaseModel):
    """One chat message, in the order it was posted."""

    ts: dt.datetime | None = Field(default=None, description="When it was posted (UTC when known).")
    author: str = Field(description="Display name or handle of who posted it.")
    text: str = Field(description="The message text, after redaction.")
    thread_ts: str | None = Field(default=None, description="Thread parent id for Slack replies.")
    start: int = Field(default=0, description="Offset of the rendered message line in Record.text.")
    end: int = Field(default=0, description="Offset one past the rendered message line in Record.text.")


class Record(BaseModel):
    """One parsed document: a postmortem, a runbook, a chat log (one channel) or another text."""

    id: str = Field(description="Stable, human-typeable id, derived from the file (or channel) name.")
    kind: Kind = Field(description="postmortem, runbook, chat or document.")
    title: str = Field(description="From front matter, the first heading, or the file name.")
    source_path: str = Field(description="Absolute path of the file (or export folder) it came from.")
    source_key: str = Field(description="Identity of the source: path, plus '#channel' for Slack channels.")
    format: str = Field(description="markdown, pdf, text, transcript, slack or quoted-chat (chat quoted in Markdown).")
    content_hash: str = Field(description="sha256 of the raw source bytes plus the parser version.")
    text: str = Field(description="The full text after redaction; offsets point into it.")
    sections: list[Section] = Field(default_factory=list, description="Sections in document order.")
    services: list[str] = Field(default_factory=list, description="Services the document concerns.")
    alerts: list[str] = Field(default_factory=list, description="Alert names found in it.")
    error_strings: list[str] = Field(default_factory=list, description="Error messages / classes found.")
    severity: str | None = Field(default=None, description="Normalised severity, e.g. 'SEV2'.")
    date: dt.date | None = Field(default=None, description="Incident date, review date or first message day.")
    tags: list[str] = Field(default_factory=list, description="Free tags from front matter.")
    owner: str | None = Field(default=None, description="Owner from front matter.")
    duration: str | None = Field(default=None, description="Duration as written ('47m', '1h 12m').")
    messages: list[Message] = Field(default_factory=list, description="Chat messages (chat logs only).")
    redactions: int = Field(default=0, description="How many secrets were replaced by a marker.")
    front_matter: dict[str, object] = Field(default_factory=dict, description="Raw front matter.")
    front_matter_text: str = Field(
        default="", description="The front matter block as written (after redaction), between its --- lines."
    )
    filler: str = Field(
        default="",
        description="Set at ingest when the document says nothing of its own: 'redirect' (a stub pointing to "
        "another page), 'links' (mostly a list of links) or 'template' (only headings, comments and "
        "placeholders); '' for content. Filler is ranked below content (kb.retrieval.filler).",
    )
    redirect: str = Field(default="", description="A redirect stub's target as written (a path or URL).")
    supersedes: str = Field(
        default="",
        description="Only for an approved runbook revision, checked at ingest against the revision history: the "
        "source key of the document it replaces. A 'supersedes:' line in front matter does not set it.",
    )


class Chunk(BaseModel):
    """A passage of one record, following section boundaries, with its offsets."""

    id: str = Field(description="'<record id>:<content hash prefix>:<n>'.")
    record_id: str = Field(description="Id of the record it belongs to.")
    section: str = Field(description="Canonical name of the section it lies in.")
    heading: str = Field(default="", description="That section's heading as written.")
    start: int = Field(description="Offset of the first character in the record's text.")
    end: int = Field(description="Offset one past the last character in the record's text.")
    text: str = Field(description="Record.text[start:end].")


class RecordMeta(BaseModel):
    """What the store keeps beside each record for filters, catalogs and result lists, typed. Chroma keeps it
    flat (lists pipe-joined, the date as a YYYYMMDD number); only ``kb.clients.store`` knows that form."""

    id: str = Field(description="The record's id.")
    kind: Kind = Field(default=Kind.document, description="postmortem, runbook, chat or document.")
    title: str = Field(default="", description="The record's title.")
    source_key: str = Field(default="", description="Identity of the source: path, plus '#channel' for Slack.")
    source_path: str = Field(default="", description="Absolute path of the file (or export folder) it came from.")
    content_hash: str = Field(default="", description="The content hash of the stored version.")
    chunks: int = Field(default=0, description="How many chunks the stored version has.")
    redactions: int = Field(default=0, description="How many secrets were replaced by a marker.")
    date: dt.date | None = Field(default=None, description="The record's date, when known.")
    services: list[str] = Field(default_factory=list, description="Services the document concerns.")
    severity: str | None = Field(default=None, description="Normalised severity, e.g. 'SEV2'.")
    alerts: list[str] = Field(default_factory=list, description="Its first 20 alert names.")
    errors: list[str] = Field(default_factory=list, description="Its first 20 error strings, 120 characters each.")
    supersedes: str = Field(default="", description="Source key this approved runbook revision replaces, or ''.")
    filler: str = Field(default="", description="'redirect', 'links' or 'template' for filler, '' for content.")
    redirect: str = Field(default="", description="A redirect stub's target as written (a path or URL).")


class ChunkMeta(BaseModel):
    """What the store keeps beside each chunk and its readers use: its place and the version of its record.
    (The store also copies its record's filter fields onto it, for Chroma's ``where``; read those through
    ``RecordMeta``.) Decoded only by ``kb.clients.store``."""

    record_id: str = Field(default="", description="Id of the record it belongs to.")
    content_hash: str = Field(default="", description="Content hash of the record version it was cut from.")
    text_hash: str = Field(default="", description="Hash of its text, to reuse its vector for the same text.")
    title: str = Field(default="", description="Its record's title.")
    section: str = Field(default="", description="Canonical name of the section it lies in.")
    heading: str = Field(default="", description="That section's heading as written.")
    start: int = Field(default=0, description="Offset of the first character in the record's text.")
    end: int = Field(default=0, description="Offset one past the last character in the record's text.")


class Hit(BaseModel):
    """A chunk a retriever returned for a query."""

    chunk: Chunk
    score: float = Field(description="Retriever score; cosine similarity for the dense retriever.")
    retriever: str = Field(description="Which retriever found it: 'dense', 'bm25' or 'hybrid'.")


class RecordSummary(BaseModel):
    """The fields of a record a result list shows."""

    id: str
    kind: Kind
    title: str
    services: list[str] = Field(default_factory=list)
    severity: str | None = None
    date: dt.date | None = None
    source_path: str = ""
    filler: str = Field(default="", description="'redirect', 'links' or 'template' for filler, '' for content.")
    redirect: str = Field(default="", description="Where a redirect stub points: the target's id when it is stored, "
                          "else as written.")


class RankedDocument(BaseModel):
    """A search result: a document with the passages that matched and why."""

    record: RecordSummary
    score: float = Field(description="The document's score: its best passage's score (for similar documents, the "
                         "score they were ranked by, relative to the best of their list: 1.0).")
    hits: list[Hit] = Field(default_factory=list, description="Matching passages, best first.")
    why: list[str] = Field(default_factory=list, description="Reasons it matched, for people.")
    cosine: float | None = Field(
        default=None,
        description="Cosine similarity of the query and the document's closest passage or heading (the dense "
        "retriever's best hit): unlike ``score``, its meaning does not depend on the other results; None when the "
        "dense retriever did not return the document.",
    )
    coverage: float | None = Field(
        default=None,
        description="The rarity-weighted share of the query's words that the document's title and shown passages "
        "hold (1.0: all of them, rare words counting most); None when not measured (a search leaves it to be "
        "measured where a relevance label is shown: ``KnowledgeBase.measured``).",
    )
    relation: str = Field(
        default="",
        description="How it relates to the document it was found for (`kb similar`): 'similar incident' or "
        "'covering runbook' (a runbook whose content covers the incident's symptoms, cause or fix).",
    )


# -- grounded generation ---------------------------------------------------------------------


class Citation(BaseModel):
    """Where a generated line comes from: a span of a stored document's text."""

    doc_id: str = Field(description="Id of the cited document.")
    section: str = Field(description="Canonical name of the section the span lies in.")
    start: int = Field(description="Offset of the span's first character in the document's text.")
    end: int = Field(description="Offset one past the span's last character.")
    quote: str = Field(default="", description="The cited text itself (document text [start:end], shortened).")


class Passage(BaseModel):
    """A piece of retrieved text given to a generator; the only things a citation may point at."""

    id: str = Field(description="Short handle the generator cites, e.g. 'P3'.")
    doc_id: str
    title: str = ""
    kind: Kind = Kind.document
    section: str = Field(description="Canonical section name.")
    heading: str = ""
    start: int = Field(description="Offset in the document's text.")
    end: int
    text: str = Field(description="Document text [start:end].")
    date: dt.date | None = None


class DraftItem(BaseModel):
    """One line of generated output (a runbook step, a timeline entry, an action item) with its sources."""

    section: str = Field(description="Which part of the output it belongs to, e.g. 'mitigation', 'timeline'.")
    text: str = Field(description="The line as shown.")
    citations: list[Citation] = Field(default_factory=list, description="The passages that support it.")
    time: str | None = Field(default=None, description="Timeline entries: when (as written in the log).")
    who: str | None = Field(default=None, description="Timeline entries: who posted it.")
    kind: str | None = Field(default=None, description="Timeline entries: detection, escalation, action, ...")
    cautions: list[str] = Field(
        default_factory=list,
        description="Why its commands are dangerous to run as written (deletion, a force flag, a downloaded "
        "script run by a shell, DROP/TRUNCATE, rm -rf, scaling to zero); shown beside it.",
    )


class DroppedItem(BaseModel):
    """A generated line that was removed because it was not grounded, and why."""

    text: str
    reason: str


# -- game days ---------------------------------------------------------------------------------


class Trigger(BaseModel):
    """When the game master reveals a clue."""

    keywords: list[str] = Field(default_factory=list, description="Analysed terms; asking about any reveals it.")
    after_turns: int | None = Field(default=None, description="Reveal it anyway after this many turns.")
    on_action: ActionKind | None = Field(default=None, description="Revealed as the outcome of this kind of action.")
    up_front: bool = Field(default=False, description="Shown with the briefing.")


class Clue(BaseModel):
    """A piece of evidence the trainee can uncover, from a real document."""

    key: str = Field(description="Stable id of the clue (hash of its source span); edits are keyed by it.")
    text: str
    category: str = Field(description="symptom, dashboard, logs, deploy, customer, alert or outcome.")
    trigger: Trigger = Field(default_factory=Trigger)
    citations: list[Citation] = Field(default_factory=list)
    red_herring: bool = Field(default=False, description="From another incident (answer key only).")


#: What a rubric item of each kind is worth when it counts; the score adds efficiency and hints to these
#: (``kb.gameday.scoring.POINTS``).
RUBRIC_POINTS: dict[str, int] = {
    RubricKind.mitigation: 40,
    RubricKind.diagnosis: 30,
    RubricKind.communication: 10,
    RubricKind.harmful: -15,
}


class RubricItem(BaseModel):
    """Something the trainee should do (or not do), and how it is recognised."""

    id: str
    kind: RubricKind = Field(description="diagnosis, mitigation, communication or harmful.")
    text: str = Field(description="What the responders did (or what hurt).")
    action: ActionKind | None = Field(
        default=None, description="Action class that matches it (rollback, terminate, ...)."
    )
    terms: list[str] = Field(default_factory=list, description="Terms that must be shared to match.")
    citations: list[Citation] = Field(default_factory=list)

    @computed_field(  # type: ignore[prop-decorator]
        description="What it is worth when it counts: its kind's RUBRIC_POINTS, as scoring counts it."
    )
    @property
    def points(self) -> int:
        return RUBRIC_POINTS[self.kind]


class Truth(BaseModel):
    """The answer key: never shown to the trainee (or to a game-master model) before the debrief."""

    root_cause: str
    cause_text: str = Field(default="", description="The cause sections as written (for the leak check).")
    cause_terms: list[str] = Field(default_factory=list, description="Words only the cause sections use.")
    contributing_factors: list[str] = Field(default_factory=list)
    mitigation: str = ""
    time_to_mitigate: str | None = None
    impact_duration: str | None = Field(
        default=None, description="How long the impact lasted, as the postmortem states it."
    )
    timeline: list[DraftItem] = Field(default_factory=list, description="The real timeline, cited.")
    rubric: list[RubricItem] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    runbooks: list[str] = Field(default_factory=list, description="Runbooks that would have helped.")


class Scenario(BaseModel):
    """A playable exercise built from one past incident."""

    id: str
    source_id: str = Field(description="The postmortem it was built from.")
    chat_id: str | None = Field(default=None, description="The incident's chat log, when one was found.")
    title: str
    services: list[str] = Field(default_factory=list)
    severity: str | None = None
    difficulty: str = "medium"
    briefing: str
    initial_page: str
    initial_citations: list[Citation] = Field(default_factory=list)
    clues: list[Clue] = Field(default_factory=list)
    hints: list[DraftItem] = Field(default_factory=list)
    truth: Truth
    source_hashes: dict[str, str] = Field(default_factory=dict, description="Content hash of each source.")
    related_ids: list[str] = Field(default_factory=list, description="Other incidents of its services.")
    edits: dict[str, dict[str, object]] = Field(default_factory=dict, description="Game-master edits by clue key.")
    dropped: list[DroppedItem] = Field(
        default_factory=list, description="Source text never shown (it speaks to an AI or carries markup), and why."
    )
    created: dt.datetime
    refreshed: dt.datetime | None = None

    def public(self) -> dict[str, object]:
        """What a trainee may see (the documented ``--json`` shape, without the answer key). Neither the
        postmortem's id nor a clue's document is named: an id often names the cause ("...-bad-migration"), and
        the document a clue comes from tells a red herring from the real incident's evidence."""
        return {
            "id": self.id,
            "difficulty": self.difficulty,
            "title": self.title,
            "services": self.services,
            "briefing": self.briefing,
            "initial_page": self.initial_page,
            "clues": [  # no sources, nothing of the answer key
                c.model_dump(
                    include={
                        "text": True,
                        "trigger": True,
                    },
                    exclude_none=True,
                )
                for c in self.clues
            ],
        }


class Turn(BaseModel):
    """One exchange of a play session."""

    n: int
    trainee: str
    kind: str = Field(description="question, action, hypothesis, hint, refused or end.")
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    revealed: list[str] = Field(default_factory=list, description="Keys of clues revealed this turn.")
    matched: list[str] = Field(default_factory=list, description="Rubric items this turn satisfied.")
    at: dt.datetime


class Session(BaseModel):
    """A play-through: transcript, state and, once over, the score."""

    id: str
    scenario_id: str
    trainee: str
    started: dt.datetime
    turns: list[Turn] = Field(default_factory=list)
    revealed: list[str] = Field(default_factory=list)
    hints_used: int = 0
    matched: list[str] = Field(default_factory=list)
    outcome: Outcome | None = Field(default=None, description="mitigated, gave up or turn limit; None while playing.")
    score: int | None = None
    debrief: str | None = None
    services: list[str] = Field(default_factory=list)

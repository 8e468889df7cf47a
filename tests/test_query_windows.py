"""A long query is also read in windows by the dense side: bounded, cut at word boundaries, short queries
untouched, and what a whole report says past the model's 256 word pieces reaches the search."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import open_store
from kb.clients.store_meta import SearchFilters
from kb.core.models import Hit
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.retrieval import search as search_module
from kb.retrieval.embeddings import model_id
from kb.retrieval.search import WHOLE_DOCUMENT_WORDS, Query, Searcher
from kb.retrieval.windows import MAX_WINDOWS, WINDOW_WORDS, windows
from tests.conftest import fake_ingested

DOCS = {
    "tls-expiry.md": (
        "Ingress certificate expired",
        "The wildcard TLS certificate on the public ingress expired overnight. Browsers refused the site with "
        "certificate date invalid errors and API clients failed the TLS handshake. The renewal job had been "
        "failing silently for weeks because its DNS challenge credentials were rotated. We issued a new "
        "certificate by hand and fixed the renewal job's credentials.",
    ),
    "disk-full.md": (
        "Database volume ran out of space",
        "The primary database's data volume filled up with write-ahead log segments after archiving to the "
        "object store stopped. Writes failed with no space left on device. We grew the volume, restarted "
        "archiving and deleted the segments already archived.",
    ),
    "queue-lag.md": (
        "Message queue consumers fell behind",
        "Consumers of the orders topic fell hours behind after a deploy doubled the processing time per "
        "message. The lag alert fired and downstream emails went out late. We rolled the deploy back and "
        "added consumers until the backlog drained.",
    ),
    "memory-leak.md": (
        "Reporting service killed for memory",
        "A new version of the reporting service leaked memory on every export request and its pods were "
        "OOMKilled every few minutes. Reports failed intermittently. We rolled back and fixed the leak in "
        "the export buffer handling.",
    ),
    "dns-outage.md": (
        "Cluster DNS stopped resolving",
        "The cluster's DNS pods were evicted during node maintenance and service names stopped resolving, so "
        "every service call between pods failed. We raised the DNS deployment's priority class and added a "
        "disruption budget.",
    ),
}

#: the opening of a long report: how the incident was run, nothing about what failed (about 230 words)
PREAMBLE = (
    "This report follows our usual review template. The review meeting was held two days after the incident "
    "with the on-call engineer, the incident commander, a representative from customer support and two "
    "engineers from the platform team. Notes were taken in the shared review document and the recording was "
    "kept for a month. The incident commander opened a dedicated channel within ten minutes of the first "
    "page, posted status updates every half hour and handed over to the second shift in the evening with a "
    "written summary of what had been tried. Customer support was told early and kept a list of the "
    "customers who had contacted them, which helped when we wrote to them afterwards. The status page was "
    "updated three times. Everyone agreed the communication went well, though the handover notes could have "
    "been shorter and the channel was noisy for the first hour while people joined and asked the same "
    "questions. Several people from other teams joined to watch, which made it harder to follow the thread "
    "of the investigation. We agreed to pin a summary message at the top of the channel next time and to "
    "ask observers to use a separate thread. The review also covered the paging policy: the first page went "
    "to the primary on-call, who acknowledged it within four minutes, and the secondary was paged twenty "
    "minutes later when it was clear that more hands were needed. Nobody was paged outside working hours "
    "more than once, and the follow-up actions were assigned to owners with dates before the meeting ended. "
)
#: what failed, said only past the model's horizon
TAIL = (
    "What actually happened: the TLS certificate of the public ingress expired. Browsers showed certificate "
    "date invalid errors and API clients failed the TLS handshake. Renewal had been failing silently since "
    "the DNS challenge credentials were rotated; a certificate was issued by hand and the renewal job fixed."
)
OTHER_TAIL = "What actually happened: the queue consumers fell behind after a deploy and the lag alert fired."


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, (title, body) in DOCS.items():
        (folder / name).write_text(f"---\ntitle: {title}\n---\n# {title}\n\n## Summary\n\n{body}\n")
    return folder


def old_dense_hits(self: Searcher, text: str, n: int, filters: SearchFilters) -> list[Hit]:
    """The dense side as it was before windows: one vector for the whole query."""
    vector = self.embedding.get_query_embedding(text)
    index = self.keyword
    within = index.allowed_ids(filters, self.params.max_id_filter) if filters != SearchFilters() else None
    hits = []
    for chunk_id, score in self.store.query(vector, n, filters, within):
        position = index.position.get(chunk_id)
        if position is not None:
            hits.append(Hit(chunk=index.chunk(position), score=score, retriever="dense"))
    for position, score in index.headings.search(vector, n, index.record_of, index.mask(filters)):
        hits.append(Hit(chunk=index.chunk(position), score=score, retriever="dense"))
    return hits


# -- the windows themselves ----------------------------------------------------------------------


def test_a_text_of_at_most_one_window_is_read_whole() -> None:
    assert windows("") == []
    assert windows(" ".join(f"w{i}" for i in range(WINDOW_WORDS))) == []
    one = windows(" ".join(f"w{i}" for i in range(WINDOW_WORDS + 1)))  # the opening is the whole query's
    assert [w.split() for w in one] == [[f"w{i}" for i in range(1, WINDOW_WORDS + 1)]]


def test_windows_are_cut_at_word_boundaries() -> None:
    pieces = [f"word{i}" + ("-part" if i % 7 == 0 else "") for i in range(520)]
    text = "".join(p + ("\n\n" if i % 11 == 0 else "  " if i % 5 == 0 else " ") for i, p in enumerate(pieces))
    found = windows(text)
    starts = [pieces.index(w.split()[0]) for w in found]
    # after the opening (read by the whole query): every 150 words, and the last 150 words
    assert starts == [WINDOW_WORDS, 2 * WINDOW_WORDS, len(pieces) - WINDOW_WORDS]
    for window, start in zip(found, starts, strict=True):
        assert window.split() == pieces[start : start + WINDOW_WORDS]  # whole words, never a part of one
    assert found[-1].endswith(pieces[-1])  # the last window ends with the text: no short leftover window


def test_the_number_of_windows_is_bounded_however_long_the_paste() -> None:
    paste = " ".join(f"pod{i} restarted after probe failure" for i in range(1_500_000))  # 51 MB
    began = time.perf_counter()
    found = windows(paste)
    took = time.perf_counter() - began
    assert len(found) == MAX_WINDOWS
    assert all(len(w.split()) == WINDOW_WORDS for w in found)
    read = " ".join(found).split()  # the words right after the opening, in order, then nothing more
    assert read == paste[: len(" ".join(found)) + 5000].split()[WINDOW_WORDS : WINDOW_WORDS * (MAX_WINDOWS + 1)]
    assert took < 1.0, f"cutting windows read the whole paste ({took:.2f} s)"


# -- the dense side over a real store ---------------------------------------------------------


class CountingEmbedder:
    """The query embedder of a searcher, recording every text it embeds."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.model_name = inner.model_name  # type: ignore[attr-defined]
        self.embedded: list[str] = []

    def get_query_embedding(self, query: str) -> list[float]:
        self.embedded.append(query)
        return self.inner.get_query_embedding(query)  # type: ignore[attr-defined, no-any-return]

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
        return self.inner.get_text_embedding_batch(texts)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def fake_store(tmp_path: Path) -> KnowledgeBase:
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    return fake_ingested(settings, write_docs(tmp_path / "docs"))


def test_a_long_query_embeds_at_most_the_whole_and_the_windows(fake_store: KnowledgeBase) -> None:
    searcher = fake_store.searcher
    counting = CountingEmbedder(searcher.embedding)
    searcher.embedding = counting
    # 22,000 words, numbered so that no two windows are the same text (a text already embedded is not again)
    huge = " ".join(f"the disk filled up with log segments and writes failed {n}" for n in range(2_000))
    searcher.dense_hits(huge, 20, SearchFilters())
    assert len(counting.embedded) == 1 + MAX_WINDOWS
    assert counting.embedded[0] == huge and counting.embedded[1:] == windows(huge)
    counting.embedded.clear()
    searcher._vectors.clear()  # the vectors the searcher keeps: this search's windows begin as the last one's
    searcher.rank(Query(text=huge), "dense")  # a search reads the first MAX_QUERY_CHARS of a paste
    assert 2 <= len(counting.embedded) <= 1 + MAX_WINDOWS


def test_a_short_query_is_embedded_once_as_it_is(fake_store: KnowledgeBase) -> None:
    searcher = fake_store.searcher
    counting = CountingEmbedder(searcher.embedding)
    searcher.embedding = counting
    # a pasted table: more than a window of pieces between spaces, but 100 words: a search, not a document
    query = "| disk | full |\n" * (WHOLE_DOCUMENT_WORDS // 2)
    assert len(query.split()) > WINDOW_WORDS and windows(query)
    assert search_module.query_words(query) == WHOLE_DOCUMENT_WORDS
    searcher.rank(Query(text=query), "dense")
    searcher.rank(Query(text="writes failed no space left on device"), "hybrid")
    assert counting.embedded == [query, "writes failed no space left on device"]


# -- with the real model (slow tier: it loads the model and ingests five documents) ------------------


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory, real_embedding) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("windows")
    settings = Settings(data_dir=base / "kb", _env_file=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedding=real_embedding, store=open_store(settings, model_id(real_embedding)))
    Ingestor(settings, kb.store, kb.embedding, kb.keyword).run([write_docs(base / "docs")])
    return kb


@pytest.mark.slow
def test_the_failure_is_told_past_what_the_model_reads(real_embedding) -> None:  # type: ignore[no-untyped-def]
    """The premise of the test below: the model never sees the long report's last paragraph."""
    assert len(PREAMBLE.split()) + len(TAIL.split()) > WHOLE_DOCUMENT_WORDS + WINDOW_WORDS
    whole = real_embedding.get_query_embedding(PREAMBLE + TAIL)
    assert whole == real_embedding.get_query_embedding(PREAMBLE + OTHER_TAIL)


@pytest.mark.slow
def test_a_long_report_finds_the_document_its_last_paragraph_describes(
    real_store: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = PREAMBLE + TAIL
    assert real_store.searcher.rank(Query(text=report), "dense")[0][0] == "tls-expiry"
    first = real_store.search(Query(text=report, k=1))[0]
    assert first.record.id == "tls-expiry"
    assert any("certificate" in h.chunk.text for h in first.hits)
    # read by its opening alone (as before windows), the same report does not put it first
    monkeypatch.setattr(search_module.Searcher, "dense_hits", old_dense_hits)
    assert real_store.searcher.rank(Query(text=report), "dense")[0][0] != "tls-expiry"


SHORT_QUERIES = (
    "certificate expired",
    "writes failed: no space left on device",
    "KubePodCrashLooping reporting-service OOMKilled",
    "how did we drain the consumer backlog after the deploy?",
    DOCS["dns-outage.md"][1],  # a pasted paragraph, still under 100 words
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_short_queries_rank_exactly_as_before(
    real_store: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, mode: search_module.Mode
) -> None:
    searcher = real_store.searcher
    queries = [Query(text=q, k=5) for q in SHORT_QUERIES] + [Query(text="disk full", k=3, exclude=("disk-full",))]
    assert all(search_module.query_words(q.text) <= WHOLE_DOCUMENT_WORDS for q in queries)
    now = [searcher.rank(q, mode) for q in queries]
    shown = [[d.model_dump() for d in searcher.search(q, mode)] for q in queries]
    monkeypatch.setattr(search_module.Searcher, "dense_hits", old_dense_hits)
    assert [searcher.rank(q, mode) for q in queries] == now
    assert [[d.model_dump() for d in searcher.search(q, mode)] for q in queries] == shown

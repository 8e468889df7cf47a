"""Search at scale: synthetic corpora of 10k and 100k chunks in an embedded store.

usage: python scripts/bench_scale.py [--sizes 10000 100000] [--queries 200]

Chunk vectors come from a fast deterministic stand-in (hashed words projected to 384 dimensions), so a
100k-chunk store builds in minutes instead of hours of embedding; everything else is the real product
path: Chroma, the BM25 snapshot, fusion, grouping. The query embedding of the real model is timed
separately (its cost does not depend on the corpus size). Prints index build time, and in a fresh query
process: snapshot load time, query latency p50/p95 warm (with and without a filter) and peak memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.clients.store import open_store  # noqa: E402
from kb.core.models import Chunk, Kind, Record, Section  # noqa: E402
from kb.core.settings import Settings  # noqa: E402
from kb.retrieval.search import Query, open_searcher  # noqa: E402

WORDS = (
    "checkout payments orders kafka redis sentinel failover pgbouncer pool exhausted latency timeout deploy "
    "rollback certificate expired dns coredns lookup node pressure oomkilled crashloop lag consumer partition "
    "replica replication disk watermark flood index elasticsearch envoy upstream 503 502 error rate spike "
    "config push flag rollout migration lock contention cronjob inventory sync notifications backlog queue "
    "textbridge cardstream payflow breaker retry storm memory heap gc pause cpu throttling quota namespace "
    "cluster ingress tls handshake connection refused reset slow query vacuum autovacuum bloat"
).split()
SERVICES = ["checkout", "payments-gateway", "orders", "auth", "kafka", "search-es", "notifications", "cart"]


class HashVectors(BaseEmbedding):
    """Bag of hashed words, projected to 384 dimensions: a fast stand-in with the real model's shape."""

    def __init__(self) -> None:
        super().__init__(model_name="bench-hash-384")

    @classmethod
    def class_name(cls) -> str:
        return "BenchHashVectors"

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(384, dtype=np.float32)
        for w in text.lower().split():
            h = int(hashlib.blake2b(w.encode(), digest_size=8).hexdigest(), 16)
            v[h % 384] += 1.0
            v[(h >> 20) % 384] -= 0.5
        n = float(np.linalg.norm(v)) or 1.0
        return (v / n).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)


def build(data_dir: Path, chunks: int) -> float:
    rng = random.Random(chunks)
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    emb = HashVectors()
    store = open_store(settings, f"{emb.class_name()}:{emb.model_name}")
    started = time.perf_counter()
    per_record = 10
    batch: list[tuple[Record, list[Chunk], list[list[float]], list[str]]] = []
    for r in range(chunks // per_record):
        texts = [" ".join(rng.choice(WORDS) for _ in range(90)) for _ in range(per_record)]
        text = "\n\n".join(texts)
        rid = f"doc-{r:06d}"
        record = Record(
            id=rid,
            kind=rng.choice([Kind.postmortem, Kind.runbook, Kind.chat]),
            title=f"incident {r}",
            source_path=f"/bench/{rid}.md",
            source_key=f"/bench/{rid}.md",
            format="markdown",
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            text=text,
            sections=[Section(name="body", heading="", start=0, end=len(text))],
            services=rng.sample(SERVICES, 2),
            severity=f"SEV{rng.randint(1, 4)}",
        )
        parts, pos = [], 0
        for i, t in enumerate(texts):
            parts.append(
                Chunk(
                    id=f"{rid}:{record.content_hash[:12]}:{i}",
                    record_id=rid,
                    section="body",
                    start=pos,
                    end=pos + len(t),
                    text=t,
                )
            )
            pos += len(t) + 2
        vectors = emb.get_text_embedding_batch([c.text for c in parts])
        batch.append((record, parts, vectors, [hashlib.md5(c.text.encode()).hexdigest() for c in parts]))  # noqa: S324
        if len(batch) == 50:
            store.put_documents(batch)
            batch = []
    store.put_documents(batch)
    stored = time.perf_counter() - started
    t0 = time.perf_counter()
    open_searcher(settings, store, emb).keyword.ensure_fresh(force=True)
    keyword = time.perf_counter() - t0
    print(f"  build: {chunks} chunks stored in {stored:.1f}s, keyword index built and saved in {keyword:.1f}s")
    return stored + keyword


def query_process(data_dir: Path, n: int) -> dict[str, float]:
    """Runs in a fresh process: load, then time warm queries."""
    rng = random.Random(1)
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    emb = HashVectors()
    t0 = time.perf_counter()
    store = open_store(settings, f"{emb.class_name()}:{emb.model_name}")
    searcher = open_searcher(settings, store, emb)
    searcher.keyword.ensure_fresh(force=True)
    load = time.perf_counter() - t0
    out: dict[str, float] = {"load_s": load}
    for label, extra in (("plain", {}), ("filtered", {"services": ("checkout",), "kinds": (Kind.postmortem,)})):
        lat = []
        for i in range(n + 10):
            q = Query(text=" ".join(rng.choice(WORDS) for _ in range(8)), k=10, **extra)  # type: ignore[arg-type]
            t = time.perf_counter()
            searcher.search(q)
            if i >= 10:
                lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        out[f"{label}_p50_ms"] = lat[len(lat) // 2]
        out[f"{label}_p95_ms"] = lat[int(len(lat) * 0.95) - 1]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the parent across
    fork and exec, so a query process started by the builder would report the builder's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_query_embedding_ms() -> float:
    from kb.retrieval.embeddings import make_embedding

    emb = make_embedding(Settings(_env_file=None))  # type: ignore[call-arg]
    emb.get_query_embedding("warm up")
    t = time.perf_counter()
    for i in range(20):
        emb.get_query_embedding(f"checkout returns 502 errors after deploy number {i}")
    return (time.perf_counter() - t) / 20 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--query-process", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.query_process:
        print(json.dumps(query_process(args.query_process, args.queries)))
        return
    print(f"real model query embedding: {real_query_embedding_ms():.1f} ms (not included below)")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{size} chunks")
            build(Path(tmp), size)
            result = subprocess.run(
                [sys.executable, __file__, "--query-process", tmp, "--queries", str(args.queries)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"  query process: snapshot load {r['load_s']:.1f}s | p50 {r['plain_p50_ms']:.1f} ms, "
                f"p95 {r['plain_p95_ms']:.1f} ms | filtered p50 {r['filtered_p50_ms']:.1f} ms, "
                f"p95 {r['filtered_p95_ms']:.1f} ms | peak RSS {r['peak_rss_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()

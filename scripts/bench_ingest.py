"""Ingest throughput, next to the raw throughput of the embedding model measured in the same run.

usage: python scripts/bench_ingest.py [--docs 1000] [--skip-generated]

Prints, for the sample corpus (data/) and for a generated corpus of --docs postmortems:
documents, chunks, seconds, chunks/s, the ratio to the raw model's chunks/s on the same chunk texts,
the time of a second, unchanged ingest, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from ingest.chunking import chunk_record, embedding_text
from ingest.pipeline import Ingestor
from ingest.sources import discover, parse_unit
from ingest.sources.base import ParseOptions
from kb.clients.store import open_store
from kb.core.settings import Settings
from kb.retrieval.embeddings import make_embedding, model_id

ROOT = Path(__file__).resolve().parent.parent
SERVICES = [
    "checkout",
    "payments-gateway",
    "orders",
    "orders-db",
    "auth",
    "session-cache",
    "kafka",
    "search-es",
    "notifications",
    "delivery-dispatch",
    "api-gateway",
    "feature-flags",
    "inventory",
    "cart",
]
SYMPTOMS = [
    "5xx errors at the edge",
    "p99 latency above two seconds",
    "consumer lag growing",
    "pods OOMKilled",
    "connections refused",
    "certificate expired",
    "disk watermark reached",
    "replication lag",
    "users logged out",
    "queue backlog",
    "DNS lookups timing out",
    "pool exhausted",
]
CAUSES = [
    "a config push with a wrong endpoint",
    "a memory regression in a library upgrade",
    "a missing index",
    "a retry storm after a dependency slowed down",
    "a CronJob running at peak",
    "an expired certificate",
    "a failover that clients did not follow",
    "too few partitions for the peak",
    "a leaked connection",
]
ACTIONS = [
    "rolled back the deploy in Argo CD",
    "raised the pool size",
    "failed over to the replica",
    "restarted the consumers",
    "disabled the feature flag",
    "renewed the certificate with cmctl",
    "deleted old indices",
    "scaled the deployment",
    "terminated idle-in-transaction sessions",
]


def generate(folder: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        services = rng.sample(SERVICES, 2)
        symptom, cause = rng.choice(SYMPTOMS), rng.choice(CAUSES)
        timeline = "\n".join(
            f"- {10 + j // 6:02d}:{(j * 7) % 60:02d} {rng.choice(['priya', 'marcus', 'aisha', 'tomas'])} "
            f"{rng.choice(ACTIONS)} after {rng.choice(SYMPTOMS)} on {rng.choice(services)}"
            for j in range(rng.randint(6, 14))
        )
        body = (
            f"---\ntitle: {symptom} on {services[0]} ({i})\ndate: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n"
            f"services: [{', '.join(services)}]\nseverity: SEV{rng.randint(1, 4)}\n---\n"
            f"# {symptom} on {services[0]}\n\n## Summary\n{services[0]} showed {symptom} for "
            f"{rng.randint(5, 90)} minutes because of {cause}. "
            * 2
            + f"\n\n## Timeline\n{timeline}\n\n## Root cause\n{cause.capitalize()}. "
            + " ".join(f"The {rng.choice(services)} team saw {rng.choice(SYMPTOMS)}." for _ in range(8))
            + f"\n\n## Resolution\nWe {rng.choice(ACTIONS)} and {rng.choice(ACTIONS)}.\n"
        )
        (folder / f"pm-{i:05d}.md").write_text(body)


def chunk_texts(paths: list[Path], settings: Settings) -> list[str]:
    texts: list[str] = []
    units, _ = discover(paths)
    for unit in units:
        for record in parse_unit(unit, ParseOptions()):
            texts.extend(embedding_text(record, c) for c in chunk_record(record, int(settings.chunk_tokens * 0.75)))
    return texts


def measure(name: str, paths: list[Path], settings_base: Settings) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_base.model_copy(update={"data_dir": Path(tmp)})
        embedding = make_embedding(settings)
        texts = chunk_texts(paths, settings)
        # a random sample, sorted by length as ingest does, so padding is the same on both sides
        sample = sorted(random.Random(1).sample(texts, min(len(texts), 256)), key=len)
        embedding.get_text_embedding_batch(sample[:8])  # warm-up
        t0 = time.perf_counter()
        embedding.get_text_embedding_batch(sample)
        raw = len(sample) / (time.perf_counter() - t0)
        store = open_store(settings, model_id(embedding))
        ingestor = Ingestor(settings, store, embedding)
        t0 = time.perf_counter()
        report = ingestor.run(paths)
        took = time.perf_counter() - t0
        chunks = store.count_chunks()
        t0 = time.perf_counter()
        again = ingestor.run(paths)
        second = time.perf_counter() - t0
        rate = chunks / took
        print(
            f"{name:<22} {report.added:>6} docs {chunks:>7} chunks {took:>8.1f}s {rate:>8.1f} chunks/s "
            f"| raw model {raw:>6.1f} chunks/s | ingest/raw {rate / raw:>5.2f} "
            f"| unchanged re-ingest {second:>5.1f}s ({again.unchanged} unchanged, {again.embedded_chunks} embedded)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000, help="documents in the generated corpus")
    parser.add_argument("--skip-generated", action="store_true")
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    print(f"model {settings.embed_backend}, {settings.embed_threads} threads, batch {settings.embed_batch_size}")
    measure("sample corpus (data/)", [ROOT / "data"], settings)
    if not args.skip_generated:
        with tempfile.TemporaryDirectory() as gen:
            generate(Path(gen), args.docs)
            measure(f"generated ({args.docs} docs)", [Path(gen)], settings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()

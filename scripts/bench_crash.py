"""Crash benchmark: an ingest killed with SIGKILL keeps the batches it committed, and the next run resumes.

usage: python scripts/bench_crash.py [--docs 600] [--kills 0.15,0.35,0.55,0.8] [--fake]

Generates a corpus of --docs postmortems (as scripts/bench_ingest.py does), times a clean full ingest into a
fresh data directory (a child process, as `kb ingest` runs), then for each kill point (a share of the clean
ingest's time) starts the same ingest into another fresh data directory, kills it with SIGKILL at that
moment, and prints:

- the work kept: documents and chunks committed when it died (with `kb doctor` on that store: clean or not);
- the time the next, resumed run took (time-to-recover) and its ratio to the clean ingest's time;
- how many chunk texts the resumed run embedded, against the clean ingest (nothing embedded twice when
  kept + resumed = clean);
- whether the final store equals the clean one (same documents, content hashes, chunk counts and chunk ids)
  and `kb doctor` finds nothing.

The real embedding model is used unless --fake (the fast hashing model of the tests, for a quick check of
the script itself; its ingest takes a few seconds, so kills land early).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.clients.store import Store, open_store  # noqa: E402
from kb.core.settings import Settings  # noqa: E402
from kb.ops.doctor import check  # noqa: E402
from kb.retrieval.keyword import KeywordIndex  # noqa: E402
from kb.retrieval.search import keyword_dir  # noqa: E402
from scripts.bench_ingest import generate  # noqa: E402

FAKE_MODEL = "hashing-64"


def child(data_dir: str, corpus: str, fake: bool) -> None:
    """One ingest, as `kb ingest` runs it; prints its counts as JSON."""
    from ingest.pipeline import Ingestor
    from kb.retrieval.embeddings import make_embedding, model_id
    from kb.retrieval.search import open_searcher

    settings = Settings(data_dir=Path(data_dir), _env_file=None)  # type: ignore[call-arg]
    if fake:
        from tests.fakes import HashingEmbedding

        embedding: Any = HashingEmbedding()
        name = FAKE_MODEL
    else:
        embedding = make_embedding(settings)
        name = model_id(embedding)
    store = open_store(settings, name)
    report = Ingestor(settings, store, embedding, open_searcher(settings, store, embedding).keyword).run([Path(corpus)])
    print(json.dumps({"added": report.added, "unchanged": report.unchanged, "embedded": report.embedded_chunks,
                      "reused": report.reused_embeddings, "model": name}))


def start(data_dir: Path, corpus: Path, fake: bool) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(data_dir), str(corpus)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")} | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*cmd, *(["--fake"] if fake else [])], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def ingest(data_dir: Path, corpus: Path, fake: bool) -> tuple[float, dict[str, Any]]:
    """Run one ingest to its end; its wall time (process start included) and counts."""
    t0 = time.perf_counter()
    proc = start(data_dir, corpus, fake)
    out, err = proc.communicate(timeout=3600)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}): {err[-2000:]}")
    return took, json.loads(out.strip().splitlines()[-1])


def opened(data_dir: Path, model: str) -> tuple[Store, KeywordIndex]:
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings, model)
    return store, KeywordIndex(store, keyword_dir(settings))


def shape(store: Store) -> tuple[dict[str, tuple[str, int]], list[str]]:
    records = {rid: (m.content_hash, m.chunks) for rid, m in store.record_index().items()}
    return records, sorted(cid for cid, _t, _m in store.iter_chunks())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=600, help="documents in the generated corpus")
    parser.add_argument("--kills", default="0.15,0.35,0.55,0.8", help="kill points, as shares of the clean time")
    parser.add_argument("--fake", action="store_true", help="the fast hashing embedding instead of the real model")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "CORPUS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], fake=args.fake)
        return
    shares = [float(x) for x in args.kills.split(",") if x.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        corpus = base / "corpus"
        generate(corpus, args.docs)
        clean_s, clean = ingest(base / "clean", corpus, args.fake)
        model = str(clean["model"])
        clean_store, clean_kw = opened(base / "clean", model)
        want = shape(clean_store)
        n_records, n_chunks = len(want[0]), len(want[1])
        doctor = check(clean_store, clean_kw)
        print(f"model {model}; corpus {args.docs} generated postmortems: {n_records} documents, {n_chunks} chunks")
        print(f"clean ingest: {clean_s:.1f}s (process start included), {clean['embedded']} chunk texts embedded, "
              f"doctor {'clean' if not doctor.problems else doctor.problems}")
        print()
        print(f"{'killed at':>10} {'docs kept':>11} {'chunks kept':>13} {'doctor':>13} | {'recover':>8} "
              f"{'ratio':>6} {'embedded':>9} {'kept+resumed':>13} | final store")
        for i, share in enumerate(shares):
            data = base / f"kill-{i}"
            proc = start(data, corpus, args.fake)
            at = share * clean_s
            time.sleep(at)
            alive = proc.poll() is None
            if alive:
                proc.send_signal(signal.SIGKILL)
            proc.communicate()
            store, kw = opened(data, model)
            after_kill = check(store, kw)  # orphan chunks when it died mid-write: swept by the next run
            index = store.record_index()
            kept_records = len(index)
            kept = [m for _c, _t, m in store.iter_chunks()
                    if (rec := index.get(m.record_id)) and rec.content_hash == m.content_hash]
            kept_chunks, kept_texts = len(kept), len({m.text_hash for m in kept})
            del store, kw
            resume_s, resumed = ingest(data, corpus, args.fake)
            store, kw = opened(data, model)
            final = check(store, kw)
            equal = shape(store) == want
            verdict = ("equal to clean" if equal else "DIFFERS from clean") + (
                ", doctor clean" if not final.problems else f", doctor: {[p.kind for p in final.problems]}")
            print(f"{at:>9.1f}s {kept_records:>5}/{n_records:<5} {kept_chunks:>6}/{n_chunks:<6} "
                  f"{','.join(sorted({p.kind for p in after_kill.problems})) or 'clean':>13} | {resume_s:>7.1f}s "
                  f"{resume_s / clean_s:>6.2f} {resumed['embedded']:>9} {kept_texts + resumed['embedded']:>6}"
                  f"/{clean['embedded']:<6} | {verdict}{'' if alive else ' (ingest had ended before the kill)'}")


if __name__ == "__main__":
    main()

"""`kb show` and `kb stats`: look at one document, or at the whole store."""

from __future__ import annotations

import argparse

from ui.cli.context import Context


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="show one document", description="Show one document: metadata and sections.")
    p.add_argument("id", help="document id, as search results print it")
    p.add_argument("--json", action="store_true", help="print the whole record as JSON")
    p.add_argument("--brief", action="store_true", help="only the first 1,500 characters of each section")
    p.set_defaults(run=show)
    s = sub.add_parser(
        "stats",
        help="what the knowledge base holds",
        description="Counts by kind and service, the store location and the embedding model.",
    )
    s.add_argument("--json", action="store_true", help="print as JSON")
    s.set_defaults(run=stats)


def show(args: argparse.Namespace, ctx: Context) -> int:
    record = ctx.kb.record(args.id)
    if ctx.json:
        ctx.print_json(record.model_dump(mode="json"))
        return 0
    print(record.title)
    print("=" * min(len(record.title), 100))
    fields = [
        ("id", record.id),
        ("kind", record.kind.value),
        ("date", record.date),
        ("severity", record.severity),
        ("services", ", ".join(record.services)),
        ("alerts", ", ".join(record.alerts[:8])),
        ("owner", record.owner),
        ("duration", record.duration),
        ("source", record.source_path),
        ("redactions", record.redactions or None),
    ]
    for name, value in fields:
        if value:
            print(f"{name:>10}: {value}")
    if record.messages:
        print(f"{'messages':>10}: {len(record.messages)} from {len({m.author for m in record.messages})} people")
    print()
    for section in record.sections:
        body = record.text[section.start : section.end].strip()
        print(f"[{section.name}] {section.heading}" if section.heading else f"[{section.name}]")
        print(body[:1500] + f" … ({len(body) - 1500:,} more characters)" if args.brief and len(body) > 1500 else body)
        print()
    if not record.sections:
        print(record.text.strip())
    return 0


def stats(args: argparse.Namespace, ctx: Context) -> int:
    st = ctx.kb.statistics()
    kinds, services = st.kinds, st.services
    data = {
        "documents": st.documents,
        "chunks": st.chunks,
        "by_kind": dict(sorted(kinds.items())),
        "by_service": dict(services.most_common()),
        "redactions": st.redactions,
        "store": st.store,
        "store_mode": st.store_mode,
        "embedding_model": st.embedding_model,
    }
    if ctx.json:
        ctx.print_json(data)
        return 0
    print(f"{data['documents']} documents, {data['chunks']} chunks, {data['redactions']} secrets redacted")
    print("by kind:    " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print("by service: " + ", ".join(f"{k} {v}" for k, v in services.most_common(15)))
    print(f"store:      {data['store']} ({data['store_mode']})")
    print(f"model:      {data['embedding_model']}")
    return 0

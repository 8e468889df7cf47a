"""Measure alert enrichment on postmortems we did not write (../shared/eval: k8s-prow-postmortems,
moj-cloud-platform), ingested into a store of their own:

    kb --data-dir DIR ingest ../shared/eval/k8s-prow-postmortems/postmortems --kind postmortem
    python scripts/eval_enrich.py --data-dir DIR [--reference scripts/gameday_reference.json] [--json]

Each postmortem's own first words about what was seen (its Impact section or field, else its Summary, else its
title; at most ALERT_WORDS words) is the firing alert. Two runs per incident:

- with the incident in the store: is it the first row, labelled strong; does the paragraph state its real fix
  (a fix it cites from the incident lies in the incident's Resolution or Mitigation section or field, or is as
  close in meaning to it, or to the fix a reader wrote down in the reference file, as a game day needs to call
  two steps the same: ``kb.gameday.cues.closeness`` >= ``SAME_ACTION``);
- with a question set that has answer terms (``--ask-set``, moj-cloud-platform's ask.jsonl), for each question about
  how an incident was resolved: whether the incident's paragraph holds both of its answer terms (a judgement
  written by someone else than the extraction);
- with the incident (and its chat log) left out: how often another incident is still labelled a strong match
  (an honest label should rarely call a different incident the same one), and how often the paragraph is empty.

And over every paragraph: the share of [n] markers that name a citation, and of citations whose quote is the
document's own text at its offset. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from kb.alerting.enrich import enrich
from kb.alerting.models import AlertGroup, Enrichment
from kb.core.enums import SectionName
from kb.core.models import Kind, Record
from kb.core.settings import Settings
from kb.gameday.cues import HANDLE, SAME_ACTION, closeness
from kb.gameday.timeline import plain
from kb.generation.candidates import field_section, figure_field
from kb.knowledge import KnowledgeBase, open_kb
from kb.retrieval.similar import same_incident
from kb.text.steps import split_steps

ALERT_WORDS = 40
FIX_NAMES = (SectionName.resolution, SectionName.mitigation)
MARK = re.compile(r"\[(\d+)\]")


def parts(record: Record, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The spans of the record's sections of these names, and of its bold-labelled fields of these names."""
    spans = [(s.start, s.end) for s in record.sections
             if s.name in names and not figure_field(record.text[s.start : s.end].strip())]
    for step in split_steps(record.text):
        if field_section(step.text) in names and not figure_field(step.text):
            spans.append((step.start, step.end))
    return spans


def alert_text(record: Record) -> str:
    """What the incident looked like from outside: its impact (else summary) in its own words."""
    for names in ((SectionName.impact,), (SectionName.summary,)):
        for start, end in parts(record, names):
            body = record.text[start:end].split("\n", 1)[-1] if record.text[start] == "#" else record.text[start:end]
            words = body.replace("**", " ").split()
            if len(words) >= 5:
                return " ".join(words[:ALERT_WORDS])
    return record.title


def group(record: Record) -> AlertGroup:
    return AlertGroup(source="api", key=record.id, status="firing", title=record.title, text=alert_text(record))


def states_fix(kb: KnowledgeBase, record: Record, enrichment: Enrichment, reference: str | None) -> bool:
    """Whether a fix the paragraph cites from the incident is its real fix."""
    spans = parts(record, FIX_NAMES)
    real = [record.text[a:b] for a, b in spans] + ([reference] if reference else [])
    for c in enrichment.citations:
        if c.doc_id != record.id or c.start is None:
            continue
        if any(a <= c.start < b for a, b in spans):
            return True
        if real and max(closeness(" ".join(HANDLE.sub("", plain(c.quote)).split()), real)) >= SAME_ACTION:
            return True
    return False


def resolving(kb: KnowledgeBase, enrichment: Enrichment) -> tuple[int, int, int, int]:
    """(markers naming a citation, markers, citations quoting their document at their offset, citations)."""
    numbers = {c.n for c in enrichment.citations}
    marks = [int(n) for n in MARK.findall(enrichment.helped)]
    exact = sum(1 for c in enrichment.citations if c.start is not None
                and kb.record(c.doc_id).text[c.start :].startswith(c.quote))
    return sum(n in numbers for n in marks), len(marks), exact, len(enrichment.citations)


def answer_terms(path: Path | None) -> dict[str, list[str]]:
    """From a question set with answer terms (moj-cloud-platform's ask.jsonl): each resolution question's two
    terms, by the id of the document that answers it (its file name without extension)."""
    if path is None or not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        item = json.loads(line) if line.strip() else {}
        if item.get("type") == "resolution" and item.get("doc"):
            out[Path(item["doc"]).stem] = [t.lower() for t in item["answer_terms"]]
    return out


def run(kb: KnowledgeBase, references: dict[str, Any], terms: dict[str, list[str]] | None = None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    totals = [0, 0, 0, 0]
    for rid in kb.ids_of(Kind.postmortem):
        record = kb.record(rid)
        alert = group(record)
        with_it = enrich(kb, alert)
        left_out = enrich(kb, alert, exclude=(rid, *same_incident(kb, record)))
        first = with_it.incidents[0] if with_it.incidents else None
        reference = (references.get(rid) or {}).get("paraphrase")
        for e in (with_it, left_out):
            totals = [t + x for t, x in zip(totals, resolving(kb, e), strict=True)]
        rows.append({
            "id": rid, "alert": alert.text,
            "first": first.doc_id if first else None, "first_relevance": first.relevance if first else None,
            "fix_stated": states_fix(kb, record, with_it, reference), "helped": with_it.helped,
            "left_out_strong": any(r.relevance == "strong" for r in left_out.incidents),
            "left_out_helped": bool(left_out.helped),
            **({"answer_terms": all(t in with_it.helped.lower() for t in (terms or {})[rid])}
               if rid in (terms or {}) else {}),
        })
    n = len(rows) or 1
    return {
        "incidents": len(rows),
        "first_is_itself": sum(r["first"] == r["id"] for r in rows) / n,
        "first_is_itself_strong": sum(r["first"] == r["id"] and r["first_relevance"] == "strong" for r in rows) / n,
        "paragraph_states_real_fix": sum(r["fix_stated"] for r in rows) / n,
        "paragraph_given": sum(bool(r["helped"]) for r in rows) / n,
        "left_out_other_called_strong": sum(r["left_out_strong"] for r in rows) / n,
        "left_out_paragraph_given": sum(r["left_out_helped"] for r in rows) / n,
        "resolution_questions": sum("answer_terms" in r for r in rows),
        "resolution_answer_terms_in_paragraph": sum(r.get("answer_terms", False) for r in rows),
        "markers_resolving": totals[0] / (totals[1] or 1), "markers": totals[1],
        "citations_quoting_exactly": totals[2] / (totals[3] or 1), "citations": totals[3],
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="the store the eval set was ingested into")
    parser.add_argument("--reference", type=Path, default=Path(__file__).with_name("gameday_reference.json"),
                        help="the fixes a reader wrote down, by document id (scripts/gameday_reference.json)")
    parser.add_argument("--ask-set", type=Path, default=None,
                        help="a question set with answer terms (moj-cloud-platform/ask.jsonl): for its resolution "
                        "questions, whether the incident's paragraph holds both terms")
    parser.add_argument("--json", action="store_true", help="print the figures and every row as JSON")
    args = parser.parse_args()
    references = json.loads(args.reference.read_text()) if args.reference.is_file() else {}
    kb = open_kb(Settings(data_dir=args.data_dir, _env_file=None), llm=False)  # type: ignore[call-arg]
    result = run(kb, references, answer_terms(args.ask_set))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for row in result["rows"]:
        print(f"{row['id']}: first {row['first']} ({row['first_relevance']}), real fix stated: {row['fix_stated']}, "
              f"left out -> another strong: {row['left_out_strong']}")
        print(f"    {row['helped'][:400]}")
    for key, value in result.items():
        if key != "rows":
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()

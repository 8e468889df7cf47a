"""What an incident's course says about its steps (kb.runbooks.course), and which blocks are steps at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sources import Unit, parse_unit
from ingest.sources.base import ParseOptions
from kb.core.enums import MessageKind
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase, open_kb
from kb.runbooks.candidates import is_step
from kb.runbooks.course import Entry, Steps, _said, course_of, steps_of
from kb.runbooks.draft import draft_runbook
from kb.runbooks.update import propose_update
from tests.conftest import DATA, sample_store_copy


def test_links_images_and_lead_ins_are_not_steps() -> None:
    assert not is_step("![dashboard](images/grafana-pool.png)")
    assert not is_step("- [Grafana dashboard](https://grafana.example/d/abc)")
    assert not is_step("When troubleshooting, check that:")
    assert is_step("The pods can be restarted one at a time:\n\n```\nkubectl rollout restart deploy/api\n```")
    assert is_step("See the [dashboard](https://grafana.example/d/abc) and compare with last week.")


def test_an_entry_is_read_without_its_stamp_or_speaker() -> None:
    assert _said("[2026-01-21 10:40:12] tomas: flag OFF at 10:40:06") == "flag OFF at 10:40:06"
    assert _said("- 10:40 - Tomás turns the flag off.") == "Tomás turns the flag off."
    assert _said("- 18:01 pool back to normal") == "pool back to normal"


def _record(path: Path):  # type: ignore[no-untyped-def]
    return parse_unit(Unit(path), ParseOptions())[0]


@pytest.mark.slow
def test_the_course_of_an_incident_names_what_made_it_worse_and_what_fixed_it() -> None:
    chat = course_of(_record(DATA / "chats" / "2026-01-21-pgbouncer-idle-in-transaction.txt"))
    assert any("default_pool_size = 180" in action.text for action, _worse in chat.harmful)
    assert any("default_pool_size = 120" in undo.text for undo in chat.undone)
    postmortem = course_of(_record(DATA / "postmortems" / "2026-01-21-pgbouncer-idle-in-transaction.md"))
    assert any("orders.confirm-eta-enrichment" in fix.text for fix in postmortem.fixes)


@pytest.fixture(scope="module")
def sample(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory, real_embedding) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    copy = sample_store_copy(pristine_sample_store, tmp_path_factory.mktemp("course") / "store")
    return open_kb(Settings(data_dir=copy, _env_file=None), embedding=real_embedding)  # type: ignore[call-arg]


@pytest.mark.slow
def test_a_draft_never_advises_what_made_things_worse_and_puts_the_fix_that_worked_first(
    sample: KnowledgeBase,
) -> None:
    draft = draft_runbook(sample, "pgbouncer pool exhausted idle in transaction")
    mitigation = [i.text for i in draft.items if i.section == "mitigation"]
    # the runbook's "give PgBouncer headroom" step raises default_pool_size: the 2026-01-21 chat says that
    # made it worse, so it is shown as a caution, not advised
    raise_pool = [t for t in mitigation if "headroom" in t]
    assert raise_pool and all(t.startswith("Caution:") for t in raise_pool)
    fix = next(n for n, t in enumerate(mitigation) if "orders.confirm-eta-enrichment" in t)
    assert fix < min(n for n, t in enumerate(mitigation) if t.startswith("Caution:"))


@pytest.mark.slow
def test_an_update_places_a_caution_before_the_step_it_qualifies(sample: KnowledgeBase, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    proposal = propose_update(settings, sample, "pgbouncer-pool-exhausted")
    new = proposal.new_markdown
    caution = new.find("Never raise the pool while sessions are idle in transaction")
    assert caution >= 0
    assert caution < new.find("give PgBouncer headroom")
    assert "default_pool_size = 120" not in new


def _steps(kinds: str, commands: set[int] = frozenset()):  # type: ignore[no-untyped-def,assignment]
    """A course from one letter an entry: a(ction), w(orse), r(ecovery), o(ther), n (nearly an action)."""
    kind = {"a": MessageKind.action, "w": MessageKind.made_worse, "r": MessageKind.recovery, "o": None, "n": None}
    read = [Entry(kind[k], {"a": 0.0, "n": 0.05}.get(k, 0.9)) for k in kinds]
    texts = [f"$ kubectl rollout restart deploy/x{n}" if n in commands else f"entry {n}" for n in range(len(kinds))]
    return steps_of(read, texts)


def test_a_claim_blames_the_last_command_else_the_last_action_and_the_fix_comes_after_the_last_claim() -> None:
    # o a o w a o a r: the action at 1 made it worse, 4 undid it, 6 fixed it
    assert _steps("oaowaoar") == Steps(harmful=[(1, 3)], undone=[4], fixes=[6])
    # a command is blamed before an action nearer the claim
    assert _steps("oaaow", commands={1}).harmful == [(1, 4)]
    # a second claim about the same change blames nothing new (the undo is not blamed)
    assert _steps("oawaw").harmful == [(1, 2)]
    # what brought things back did not make them worse: a claim after a recovery blames no earlier action
    assert _steps("oarow") == Steps(fixes=[1])
    # no claim: the fix is the action just before the first recovery
    assert _steps("oaoaor").fixes == [3]
    assert _steps("ooor").fixes == []


def test_of_the_actions_just_before_recovery_the_fix_is_the_one_that_reads_most_as_one() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("kb.runbooks.course.ACTION_MARGIN", 0.1)  # "n" entries count as actions
        assert _steps("oanr").fixes == [1]
        assert _steps("onnr").fixes == [2]  # the latest on a tie

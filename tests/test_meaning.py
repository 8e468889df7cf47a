"""The meaning classifier: labelled example folders, nearest examples decide, a stable held-out split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb.retrieval.meaning import WORD_BUCKETS, Classifier, accuracy, held_out, load_examples, word_features
from tests.fakes import HashingEmbedding


def _write(root: Path) -> Path:
    task = root / "weather"
    task.mkdir(parents=True)
    (task / "rain.txt").write_text("# wet days\nrain falls all day\nheavy rain and wet streets\n\nrain again\n")
    (task / "sun.txt").write_text("sun shines bright\nclear sky and sun\nwarm sun all afternoon\n")
    (task / "empty.txt").write_text("# nothing yet\n")
    return root


def test_examples_load_one_a_line_without_comments_or_blanks(tmp_path: Path) -> None:
    examples = load_examples("weather", _write(tmp_path))
    assert examples["rain"] == ["rain falls all day", "heavy rain and wet streets", "rain again"]
    assert examples["empty"] == []


def test_an_include_line_takes_in_another_tasks_label(tmp_path: Path) -> None:
    _write(tmp_path)
    task = tmp_path / "moods"
    task.mkdir()
    (task / "gloomy.txt").write_text("# gloomy things\nlow grey clouds\n#include weather/rain\n")
    (task / "bright.txt").write_text("a good day\n")
    examples = load_examples("moods", tmp_path)
    assert examples["gloomy"] == ["low grey clouds", "rain falls all day", "heavy rain and wet streets", "rain again"]
    assert examples["bright"] == ["a good day"]


@pytest.mark.parametrize("name", ["weather/snow", "weather", "../weather/rain", "nowhere/rain"])
def test_an_include_of_no_label_file_names_the_file_and_the_line(tmp_path: Path, name: str) -> None:
    _write(tmp_path)
    (tmp_path / "moods").mkdir()
    (tmp_path / "moods" / "gloomy.txt").write_text(f"low grey clouds\n#include {name}\n")
    with pytest.raises(FileNotFoundError, match=r"gloomy\.txt: '#include .*' names no label file"):
        load_examples("moods", tmp_path)


def test_missing_task_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        load_examples("nope", tmp_path)


def test_nearest_examples_decide_and_a_far_text_gets_no_label(tmp_path: Path) -> None:
    judge = Classifier(load_examples("weather", _write(tmp_path)), HashingEmbedding(), min_score=0.2)
    rain, sun, neither = judge.classify(["the rain will not stop", "sun is out", "quarterly revenue report"])
    assert rain.label == "rain" and sun.label == "sun"
    assert neither.label is None and neither.score < 0.2
    assert set(rain.scores) == {"rain", "sun"}  # a label without examples takes no part
    assert rain.margin > 0


def test_a_call_too_close_to_make_gets_no_label(tmp_path: Path) -> None:
    judge = Classifier(load_examples("weather", _write(tmp_path)), HashingEmbedding(), min_margin=0.5)
    assert judge.classify_one("rain and sun").label is None


def test_held_out_split_is_stable_and_about_one_in_five() -> None:
    lines = [f"example line number {i}" for i in range(2000)]
    share = sum(map(held_out, lines)) / len(lines)
    assert 0.15 < share < 0.25
    assert [held_out(x) for x in lines[:50]] == [held_out(x) for x in lines[:50]]


def test_accuracy_classifies_only_held_out_examples_with_the_rest(tmp_path: Path) -> None:
    root = tmp_path
    task = root / "colours"
    task.mkdir()
    reds = [f"red crimson scarlet shade {i}" for i in range(30)]
    blues = [f"blue navy azure shade {i}" for i in range(30)]
    (task / "red.txt").write_text("\n".join(reds))
    (task / "blue.txt").write_text("\n".join(blues))
    result = accuracy("colours", HashingEmbedding(), root)
    tested = [x for x in reds + blues if held_out(x)]
    assert result.tested == len(tested) and result.train == 60 - len(tested)
    assert result.correct == result.tested and result.ratio == 1.0


class FirstWordOnly(HashingEmbedding):
    """Texts embed by their first word only: blind to the rest, as the bundled model nearly is to "getting
    worse" against "back to normal"."""

    def __init__(self) -> None:
        super().__init__()
        self.model_name = "first-word-only"

    def _vec(self, text: str) -> list[float]:
        return super()._vec(text.split()[0] if text.split() else "")


def test_word_features_count_each_word_once_and_have_unit_length() -> None:
    rows = word_features(["Back to normal?", "normal to back back ?", ""], np)
    assert rows.shape == (3, WORD_BUCKETS)
    assert np.allclose(rows[0], rows[1]) and np.isclose(np.linalg.norm(rows[0]), 1.0)
    assert not rows[2].any()


def test_a_learned_classifier_tells_apart_by_words_what_the_embedding_cannot() -> None:
    examples = {
        "recovery": ["error rate back to normal", "latency back to normal", "queue is back to normal now",
                     "checkout works again", "p99 back under the slo", "all green again"],
        "made_worse": ["error rate getting worse", "latency getting worse after that", "queue is getting worse",
                       "that made checkout worse", "p99 worse since the change", "worse again, reverting"],
    }
    judge = Classifier(examples, FirstWordOnly(), learned=True, balanced=True)
    better, worse = judge.classify(["disk latency back to normal", "disk latency getting worse"])
    assert (better.label, worse.label) == ("recovery", "made_worse")
    assert better.margin > 0.5 and worse.margin > 0.5


def _unsure(nearest: tuple[str, float]) -> Classifier:
    """A learned classifier whose fit for every text is unsure (below its floor) and whose nearest example is given."""
    judge = Classifier.__new__(Classifier)
    judge.weights = np.zeros((1, 3))
    judge.min_score, judge.min_margin = -0.4, 0.08
    judge.scores = lambda texts: [{"action": -0.45, "observation": -0.6, "made_worse": -0.7} for _ in texts]  # type: ignore[method-assign]
    judge.nearest = lambda texts: [nearest for _ in texts]  # type: ignore[method-assign]
    return judge


def test_a_near_enough_example_decides_an_unsure_call_only_for_one_of_the_two_best_labels() -> None:
    assert _unsure(("observation", 0.6)).classify_one("x").label == "observation"  # the runner-up: taken
    assert _unsure(("action", 0.6)).classify_one("x").label == "action"
    assert _unsure(("made_worse", 0.6)).classify_one("x").label is None  # third: a word in common, not a reading
    assert _unsure(("made_worse", 0.95)).classify_one("x").label == "made_worse"  # a near copy decides
    assert _unsure(("observation", 0.3)).classify_one("x").label is None  # too far to decide

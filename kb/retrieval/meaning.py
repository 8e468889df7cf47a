"""Classify short texts by what they say: the bundled embedding model against folders of labelled examples.

A task is a folder under ``kb/retrieval/examples/`` (``sections``, ``cues``, ...); each ``LABEL.txt`` file in
it holds one example a line (blank lines and lines starting with ``#`` are skipped; a line ``#include TASK/LABEL``
takes in every example of another task's label, so one task's kinds can serve as another's counter-examples
without being copied). A text takes the label
whose nearest examples are closest to it, or none when no label is close enough or two labels are too close
to call. Examples are written from many teams' documents, not from one sample: a new kind of wording is
taught by adding an example line, never by a pattern.

A task named in ``LEARNED_TASKS`` is decided by a small linear model instead (ridge regression to the labels,
solved in closed form with numpy): it reads each text twice, whole and by its first few words, because what
a line *does* ("root cause:", "I think", "we should", "restarted") is said at its start while the rest names
the system it is about; and by its words, hashed into buckets, because the embedding model reads "error rates
are getting worse" and "error rates are back to normal" as near neighbours: which words tell such lines apart
is learned from the examples, not listed. Nearest examples still answer for the other tasks.

Every task keeps a held-out split (one example in five, chosen by a hash of the example, so the split is
stable as examples are added): ``accuracy`` classifies the held-out examples with a classifier built from
the rest, which is the figure ``scripts/label_accuracy.py`` prints.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.retrieval.vectorcache import VectorCache

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

EXAMPLES_DIR = Path(__file__).with_name("examples")
#: a line of a label file that takes in another task's label (``#include cues/chatter``)
INCLUDE = "#include "
#: how many nearest examples of a label are averaged into its score
NEIGHBOURS = 3
#: one example in this many is held out for measuring accuracy
HOLD_OUT_EVERY = 5
#: the model reads 256 word pieces; more characters than this only cost time
MAX_TEXT_CHARS = 1000
#: tasks decided by the linear model over (whole text, opening words); on every one of them it is right more
#: often on the held-out split than nearest examples (scripts/label_accuracy.py). Section types keep nearest
#: examples: their classifier weighs a heading against its opening (kb.retrieval.sectioning)
LEARNED_TASKS = frozenset({"cues", "actions", "evidence", "gm_turns", "questions", "question_scope", "impact"})
#: learned tasks whose labels weigh alike in the fit, however many examples each has (each example weighted by
#: one over its label's count): chosen by the held-out split, and on the cue kinds by the separate check set
#: too (a label with many examples no longer wins the lines no label fits well)
BALANCED_TASKS = frozenset({"cues", "gm_turns", "question_scope", "impact"})
#: words of a text's opening read on their own by the linear model
HEAD_WORDS = 5
#: buckets the words of a text are hashed into for the linear model (more do not help on the held-out splits)
WORD_BUCKETS = 4096
#: ridge penalty of the linear model (chosen by five-fold cross-validation on the cue examples, and kept when
#: the word buckets were added: 0.5 to 2 are within a few held-out examples of each other)
RIDGE = 1.0
#: similarity at which a text is nearly one of a learned task's examples and takes its label. Not lower: "error
#: rate is getting worse" is 0.81 from "error rates are back to normal", and the linear model, which reads the
#: words too, calls such lines better (on the held-out splits, 0.9 is as good as no such rule or better)
NEAR = 0.9
#: similarity to its nearest example at which a text the linear model cannot call takes that example's label, when
#: that label is one of the model's two best (a near enough example of a third label is a word in common, not a
#: reading: on the cue check set the rule then makes 16 fewer wrong calls and no fewer right ones)
FALLBACK = 0.45
#: no lower bound on the winning score (a learned fit may be below zero and still the best call)
NO_FLOOR = float("-inf")
#: texts already embedded in this process (bounded: cleared when full)
_MAX_CACHED = 16384


@dataclass(frozen=True)
class Verdict:
    """What a text was judged to be."""

    label: str | None  #: the winning label, or None when nothing was close enough or the call too close
    score: float  #: the winning label's similarity (mean cosine of its nearest examples), or its fit (about
    #: 1 for a sure call, 0 or less for none) when the task is learned
    margin: float  #: how far ahead of the runner-up label it is
    scores: dict[str, float]  #: every label's score, for explanations and tests


def held_out(example: str) -> bool:
    """Is this example in the held-out split? Stable across runs and machines."""
    return int(hashlib.sha1(example.encode()).hexdigest(), 16) % HOLD_OUT_EVERY == 0  # noqa: S324 - a split, not security


def load_examples(task: str, root: Path = EXAMPLES_DIR) -> dict[str, list[str]]:
    """The labelled examples of a task: label -> example lines, in file order."""
    folder = root / task
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no labelled examples for task '{task}'")
    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.txt")):
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        kept: list[str] = []
        for line in lines:
            if line.startswith(INCLUDE):
                kept += _included(line[len(INCLUDE) :].strip(), root, path)
            elif line and not line.startswith("#"):
                kept.append(line)
        out[path.stem] = kept
    return out


def _included(name: str, root: Path, where: Path) -> list[str]:
    """The examples of another task's label (``TASK/LABEL``), named by an include line of ``where``."""
    task, _, label = name.partition("/")
    source = root / task / f"{label}.txt"
    if not task or not label or ".." in name or not source.is_file():
        raise FileNotFoundError(f"{where}: '{INCLUDE.strip()} {name}' names no label file under {root}")
    lines = (line.strip() for line in source.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class Classifier:
    """Nearest labelled examples decide; labels are the file names of the task's folder."""

    def __init__(
        self,
        examples: dict[str, list[str]],
        model: BaseEmbedding,
        min_score: float = NO_FLOOR,
        min_margin: float = 0.0,
        neighbours: int = NEIGHBOURS,
        learned: bool = False,
        balanced: bool = False,
    ) -> None:
        import numpy as np

        self.np = np
        self.model = model
        self.min_score = min_score
        self.min_margin = min_margin
        self.neighbours = neighbours
        self.labels = [label for label, lines in examples.items() if lines]
        self.vectors = {label: np.array(self._embed(examples[label])) for label in self.labels}
        self.balanced = balanced
        self.weights = self._fit(examples) if learned else None

    def _features(self, texts: Sequence[str]) -> Any:
        """Each text whole, by its opening words and by its words, side by side, with a constant for the bias."""
        np = self.np
        heads = [" ".join(t.split()[:HEAD_WORDS]) for t in texts]
        whole, opening = np.array(self._embed(texts)), np.array(self._embed(heads))
        return np.hstack([whole, opening, word_features(texts, np), np.ones((len(texts), 1))])

    def _fit(self, examples: dict[str, list[str]]) -> Any:
        """Ridge regression from features to +1 (the example's label) / -1 (every other label); when balanced,
        each example weighs one over its label's count (scaled to a mean weight of 1)."""
        np = self.np
        texts = [e for label in self.labels for e in examples[label]]
        targets = -np.ones((len(texts), len(self.labels)))
        weight = np.ones(len(texts))
        row = 0
        for column, label in enumerate(self.labels):
            count = len(examples[label])
            targets[row : row + count, column] = 1.0
            weight[row : row + count] = 1.0 / count if self.balanced else 1.0
            row += count
        # solved in its dual form: there are more features (the word buckets) than examples
        root = np.sqrt(weight / weight.mean())[:, None]
        x, y = self._features(texts) * root, targets * root
        return x.T @ np.linalg.solve(x @ x.T + RIDGE * np.eye(len(texts)), y)

    def _embed(self, texts: Sequence[str]) -> list[Any]:
        return embed(texts, self.model)

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Every label's score for each text: similarity of its nearest examples, or the linear model's fit."""
        if not texts:
            return []
        if self.weights is not None:
            fit = self._features(texts) @ self.weights
            return [dict(zip(self.labels, map(float, row), strict=True)) for row in fit]
        vectors = self.np.array(self._embed(texts))
        per_label = {}
        for label in self.labels:
            sims = vectors @ self.vectors[label].T
            k = min(self.neighbours, sims.shape[1])
            per_label[label] = self.np.sort(sims, axis=1)[:, -k:].mean(axis=1)
        return [{label: float(per_label[label][i]) for label in self.labels} for i in range(len(texts))]

    def nearest(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """The label of each text's single nearest example, and its similarity."""
        if not texts:
            return []
        vectors = self.np.array(self._embed(texts))
        best = {label: (vectors @ self.vectors[label].T).max(axis=1) for label in self.labels}
        return [max(((label, float(best[label][i])) for label in self.labels), key=lambda x: x[1])
                for i in range(len(texts))]

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        """The verdict for each text, in one batch of the model. With a learned task, a text that is nearly an
        example (``NEAR``) takes that example's label: the linear model generalises, a near copy is plain; and
        where the linear model cannot call it, a text close enough to one example (``FALLBACK``) takes its label if
        the model ranks that label first or second."""
        out = []
        near = self.nearest(texts) if self.weights is not None else [("", 0.0)] * len(texts)
        for scores, (twin, similarity) in zip(self.scores(texts), near, strict=True):
            ranked = sorted(scores.items(), key=lambda item: -item[1])
            best, score = ranked[0]
            margin = score - ranked[1][1] if len(ranked) > 1 else score
            known = score >= self.min_score and margin >= self.min_margin
            runner_up = ranked[1][0] if len(ranked) > 1 else best
            if similarity >= NEAR or (not known and similarity >= FALLBACK and twin in (best, runner_up)):
                best, known = twin, True
            out.append(Verdict(best if known else None, score, margin, scores))
        return out

    def classify_one(self, text: str) -> Verdict:
        return self.classify([text])[0]


_CACHE: dict[tuple[str, str], Any] = {}
#: the vectors kept on disk between processes (``use_cache_dir``); None keeps them in this process only
_DISK: VectorCache | None = None


def use_cache_dir(directory: Path | None) -> None:
    """Keep the bundled model's vectors in this directory between processes (None: in this process only).
    The shells set it from the settings (``cache_dir``, ``embed_cache``)."""
    global _DISK
    if directory is None:
        _DISK = None
    elif _DISK is None or _DISK.path.parent != Path(directory):
        _DISK = VectorCache(Path(directory))


def bundled_model() -> BaseEmbedding:
    """The bundled embedding model, shared with every other user in this process."""
    from kb.retrieval.embeddings import OnnxMiniLMEmbedding

    return OnnxMiniLMEmbedding.shared()


def cache_identity(model: Any) -> str | None:
    """What the vectors of ``model`` are known by on disk: its name with the pinned hashes of the bundled
    model's files, for the bundled model (or a view of it, such as the section classifier's, whose name
    says how it differs). None for any other model: its name alone does not pin its weights."""
    from kb.retrieval import embeddings

    bundled = embeddings.OnnxMiniLMEmbedding
    if not (isinstance(model, bundled) or isinstance(getattr(model, "model", None), bundled)):
        return None
    files = f"{embeddings.ONNX_MODEL[2]}:{embeddings.TOKENIZER[2]}:{embeddings.MAX_TOKENS}"
    return f"{model.model_name}|{files}|{MAX_TEXT_CHARS}"


def embed(texts: Sequence[str], model: Any = None, clip: int | None = MAX_TEXT_CHARS) -> list[Any]:
    """The vectors (float64 arrays) of ``texts`` (each cut to ``clip`` characters; None: whole), by ``model``
    (default: the bundled one) in one batch for those not seen before: kept in this process (keyed by model
    name and text) and, for the bundled model when a cache directory is set, on disk for the next process."""
    import numpy as np

    model = model if model is not None else bundled_model()
    name = model.model_name
    clipped = [t[:clip] for t in texts]
    todo = [t for t in dict.fromkeys(clipped) if (name, t) not in _CACHE]
    if todo:
        if len(_CACHE) + len(todo) > _MAX_CACHED:
            _CACHE.clear()
        disk = _DISK
        identity = cache_identity(model) if disk is not None else None
        found = disk.get(identity, todo) if disk is not None and identity else {}
        missing = [t for t in todo if t not in found]
        if missing:
            made = [np.asarray(v, dtype=np.float64) for v in model.get_text_embedding_batch(missing)]
            found.update(zip(missing, made, strict=True))
            if disk is not None and identity:
                disk.put(identity, zip(missing, made, strict=True))
        _CACHE.update(((name, t), found[t]) for t in todo)
    return [_CACHE[name, t] for t in clipped]


def similarity(texts: Sequence[str], others: Sequence[str]) -> list[list[float]]:
    """Cosine similarity in meaning of each text to each other text (one batch of the model)."""
    if not texts or not others:
        return [[0.0] * len(others) for _ in texts]
    import numpy as np

    matrix = np.array(embed([*texts, *others]), dtype=float)  # through the shared cache of embedded texts
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12
    sims = matrix[: len(texts)] @ matrix[len(texts) :].T
    return [[float(x) for x in row] for row in sims]


def word_features(texts: Sequence[str], np: Any) -> Any:
    """Which words each text holds, hashed into ``WORD_BUCKETS`` buckets, scaled to unit length."""
    out = np.zeros((len(texts), WORD_BUCKETS))
    for row, text in enumerate(texts):
        for word in _words(text):
            out[row, zlib.crc32(word.encode()) % WORD_BUCKETS] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def _words(text: str) -> set[str]:
    """A text's words: its runs of ASCII letters, digits and apostrophes, lowercased ("cl_waiting" is two
    words, "10:40" two); and "?" and "!" when it has them."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c == "'") else " " for c in text.lower())
    return set(kept.split()) | ({"?", "!"} & set(text))


@lru_cache(maxsize=16)
def classifier(task: str, min_score: float = NO_FLOOR, min_margin: float = 0.0) -> Classifier:
    """The classifier of a task, built from all its examples with the bundled model (once per process)."""
    return Classifier(load_examples(task), bundled_model(), min_score, min_margin, learned=task in LEARNED_TASKS,
                      balanced=task in BALANCED_TASKS)


@dataclass(frozen=True)
class Accuracy:
    """A task's accuracy on its held-out split."""

    task: str
    train: int  #: examples the classifier was built from
    tested: int  #: held-out examples classified
    correct: int
    per_label: dict[str, tuple[int, int]]  #: label -> (correct, tested)
    confusions: list[tuple[str, str, str]]  #: (example, expected, got) for each miss

    @property
    def ratio(self) -> float:
        return self.correct / self.tested if self.tested else 0.0


def accuracy(task: str, model: BaseEmbedding | None = None, root: Path = EXAMPLES_DIR) -> Accuracy:
    """Build a classifier from the training split and classify the held-out split."""
    examples = load_examples(task, root)
    train = {label: [e for e in lines if not held_out(e)] for label, lines in examples.items()}
    test = [(e, label) for label, lines in examples.items() for e in lines if held_out(e)]
    judge = Classifier(train, model or bundled_model(), learned=task in LEARNED_TASKS,
                       balanced=task in BALANCED_TASKS)
    verdicts = judge.classify([e for e, _ in test])
    per_label: dict[str, tuple[int, int]] = {}
    confusions = []
    for (example, expected), verdict in zip(test, verdicts, strict=True):
        ok, n = per_label.get(expected, (0, 0))
        hit = verdict.label == expected
        per_label[expected] = (ok + hit, n + 1)
        if not hit:
            confusions.append((example, expected, verdict.label or "-"))
    correct = sum(ok for ok, _ in per_label.values())
    return Accuracy(task, sum(map(len, train.values())), len(test), correct, per_label, confusions)

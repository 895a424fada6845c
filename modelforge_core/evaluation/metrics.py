"""Task metrics, our own code: perplexity, ROUGE-1/2/L (rouge_score), SQuAD exact match and F1.

All scores are on a 0-1 scale (SQuAD's papers print them x100).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

MAX_LOSS_FOR_PERPLEXITY = 50.0
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def perplexity(loss: float | None) -> float | None:
    """exp(mean token cross-entropy); None for a missing or non-finite loss, capped to stay finite."""
    if loss is None or not math.isfinite(loss):
        return None
    return math.exp(min(loss, MAX_LOSS_FOR_PERPLEXITY))


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F-measures (with stemming), as rouge_score computes them."""
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        return {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = Counter()
    for prediction, reference in zip(predictions, references):
        for name, score in scorer.score(reference, prediction).items():
            totals[name] += score.fmeasure
    return {name: totals[name] / len(predictions) for name in ("rouge1", "rouge2", "rougeL")}


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truths: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals any normalized truth."""
    return float(any(normalize_answer(prediction) == normalize_answer(t) for t in truths))


def token_f1(prediction: str, truths: Sequence[str]) -> float:
    """The best token-overlap F1 of the prediction against any truth (SQuAD's definition)."""
    return max((_f1(prediction, truth) for truth in truths), default=0.0)


def _f1(prediction: str, truth: str) -> float:
    pred_tokens, truth_tokens = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred_tokens or not truth_tokens:
        return float(pred_tokens == truth_tokens)
    common = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def qa_scores(predictions: Sequence[str], truths: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean exact match and F1 over questions; each question may have several true answers."""
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions for {len(truths)} questions")
    if not predictions:
        return {"exact_match": 0.0, "f1": 0.0}
    em = sum(exact_match(p, t) for p, t in zip(predictions, truths)) / len(predictions)
    f1 = sum(token_f1(p, t) for p, t in zip(predictions, truths)) / len(predictions)
    return {"exact_match": em, "f1": f1}

"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from modelforge_core.evaluation.metrics import exact_match, normalize_answer, perplexity, qa_scores, rouge, token_f1


def test_perplexity_from_a_known_loss():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(8)) == pytest.approx(8.0)
    assert perplexity(2.0) == pytest.approx(7.389056, rel=1e-6)
    assert perplexity(None) is None and perplexity(float("nan")) is None
    assert math.isfinite(perplexity(1e6))


def test_rouge_on_short_strings():
    # reference "the cat sat on the mat" (6 unigrams), prediction "the cat sat" (3):
    # ROUGE-1: 3 overlapping -> P=1, R=0.5, F=2/3; ROUGE-2: bigrams "the cat","cat sat" both in the
    # reference's 5 -> P=1, R=0.4, F=4/7; ROUGE-L: LCS 3 -> same as ROUGE-1.
    scores = rouge(["the cat sat"], ["the cat sat on the mat"])
    assert scores["rouge1"] == pytest.approx(2 / 3)
    assert scores["rouge2"] == pytest.approx(4 / 7)
    assert scores["rougeL"] == pytest.approx(2 / 3)
    assert rouge(["a b c"], ["a b c"]) == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})
    assert rouge(["x y"], ["a b"])["rouge1"] == 0.0
    # ROUGE-L follows word order, ROUGE-1 does not: the reversed sentence shares every word but its
    # longest common subsequence is one word -> P = R = F = 1/4
    reordered = rouge(["mat on sat cat"], ["cat sat on mat"])
    assert reordered["rouge1"] == 1.0 and reordered["rougeL"] == pytest.approx(0.25)


def test_squad_normalization_punctuation_articles_case():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an Apple, a day") == "apple day"


def test_exact_match_and_f1_differ_where_they_should():
    assert exact_match("The Eiffel Tower.", ["eiffel tower"]) == 1.0
    assert token_f1("The Eiffel Tower.", ["eiffel tower"]) == 1.0
    # "eiffel tower in paris" vs "eiffel tower": common 2, P=2/4, R=2/2 -> F1 = 2/3; EM = 0
    assert exact_match("Eiffel Tower in Paris", ["Eiffel Tower"]) == 0.0
    assert token_f1("Eiffel Tower in Paris", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    # the best of several truths counts
    assert token_f1("Paris", ["in France", "Paris"]) == 1.0
    assert token_f1("London", ["Paris"]) == 0.0


def test_qa_scores_average_over_questions():
    scores = qa_scores(["Eiffel Tower in Paris", "1889"], [["Eiffel Tower"], ["1889", "in 1889"]])
    assert scores["exact_match"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx((2 / 3 + 1) / 2)
    with pytest.raises(ValueError):
        qa_scores(["a"], [])

"""The official nested SQuAD JSON, read as the flat rows the extractive QA task trains on.

``{"version": ..., "data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}`` becomes one row per question:
``id``, ``title``, ``context``, ``question``, ``answers`` = ``{"text": [...], "answer_start": [...]}``
(the layout of the Hub's ``squad`` dataset). SQuAD 2.0's unanswerable questions (``is_impossible``,
or no answers) are skipped and counted: the extractive QA task cannot learn "no answer". A faulty
nesting is refused with its path in words, e.g. ``data[0].paragraphs[2]: no 'context'``. Whether an
answer's text sits at its ``answer_start`` is the dataset validator's check (with row numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..exceptions import DatasetValidationError
from .values import type_in_words

_HINT = (
    'A SQuAD file is {"data": [{"title": ..., "paragraphs": [{"context": ..., "qas": [{"id": ..., '
    '"question": ..., "answers": [{"text": ..., "answer_start": ...}]}]}]}]}; fix the place named.'
)


@dataclass
class SquadRows:
    """The flat rows of a SQuAD file, and how many questions were skipped as unanswerable."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    questions: int = 0
    unanswerable: int = 0

    def notes(self, source: str) -> list[str]:
        """What the reading left out, in words (empty when nothing was)."""
        if not self.unanswerable:
            return []
        return [
            f"{source}: skipped {self.unanswerable:,} of {self.questions:,} questions that have no answer "
            "(SQuAD 2.0 is_impossible); extractive question answering learns answer spans only."
        ]


def is_nested_squad(data: Any) -> bool:
    """True for a top-level object with a ``data`` list and a ``version``, or whose ``data`` holds an article with
    ``paragraphs`` (the SQuAD layout)."""
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        return False
    return "version" in data or any(isinstance(article, dict) and "paragraphs" in article for article in articles)


def flatten_squad(data: dict[str, Any], source: str) -> SquadRows:
    """One row per answerable question; raises DatasetValidationError naming the path of a faulty part, or when
    every question is unanswerable."""
    try:
        return _flatten(data, source)
    except _NestingError as err:
        raise DatasetValidationError(f"{source}: {err}.", _HINT) from None


class _NestingError(Exception):
    """A faulty part of the nesting: ``path: what is wrong``."""


def _flatten(data: dict[str, Any], source: str) -> SquadRows:
    result = SquadRows()
    for a, article in enumerate(data["data"]):
        where = f"data[{a}]"
        title = _optional_text(_object(article, where), "title", where)
        for p, paragraph in enumerate(_list(article, "paragraphs", where)):
            at = f"{where}.paragraphs[{p}]"
            context = _text(_object(paragraph, at), "context", at)
            for q, qa in enumerate(_list(paragraph, "qas", at)):
                row = _question_row(_object(qa, f"{at}.qas[{q}]"), f"{at}.qas[{q}]", title, context)
                result.questions += 1
                if row is None:
                    result.unanswerable += 1
                else:
                    result.rows.append(row)
    if result.questions and not result.rows:
        raise DatasetValidationError(
            f"{source}: all {result.questions:,} questions are unanswerable (SQuAD 2.0 is_impossible or no answers); "
            "extractive question answering learns answer spans only, so there is nothing to train on.",
            "Use a file with answered questions (e.g. SQuAD 1.1, or SQuAD 2.0 with its answerable questions).",
        )
    return result


def _question_row(qa: dict[str, Any], where: str, title: str | None, context: str) -> dict[str, Any] | None:
    """The flat row of one question, or None when it has no answer."""
    question = _text(qa, "question", where)
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise _error(where, f"'is_impossible' must be true or false, got {type_in_words(impossible)}")
    answers = [] if impossible else _list(qa, "answers", where)
    texts, starts = [], []
    for n, answer in enumerate(answers):
        at = f"{where}.answers[{n}]"
        texts.append(_text(_object(answer, at), "text", at))
        start = answer.get("answer_start")
        if not isinstance(start, int) or isinstance(start, bool):
            raise _error(at, f"'answer_start' must be a whole number (the answer's offset in the context), got {type_in_words(start)}")
        starts.append(start)
    if not texts:
        return None
    qid = qa.get("id")
    return {
        "id": None if qid is None else str(qid),
        "title": title,
        "context": context,
        "question": question,
        "answers": {"text": texts, "answer_start": starts},
    }


def _error(where: str, what: str) -> _NestingError:
    return _NestingError(f"{where}: {what}")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error(where, f"expected an object {{...}}, got {type_in_words(value)}")
    return value


def _list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    return _field(parent, key, where, list, "a list")


def _text(parent: dict[str, Any], key: str, where: str) -> str:
    return _field(parent, key, where, str, "a string")


def _field(parent: dict[str, Any], key: str, where: str, kind: type, kind_in_words: str) -> Any:
    """``parent[key]``, which must be there and be of ``kind``; raises naming the path otherwise."""
    if key not in parent:
        raise _error(where, f"no '{key}'")
    value = parent[key]
    if not isinstance(value, kind):
        raise _error(f"{where}.{key}", f"expected {kind_in_words}, got {type_in_words(value)}")
    return value


def _optional_text(parent: dict[str, Any], key: str, where: str) -> str | None:
    return _text(parent, key, where) if parent.get(key) is not None else None

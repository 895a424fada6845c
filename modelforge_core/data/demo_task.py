"""The learnable demo task: spell the first or the last digit of a number.

A tiny model learns it on a CPU in a couple of minutes, and every answer can be checked exactly,
so that fine-tuning is seen to work, not only to run (the demo tokenizer splits digits one by
one). The shipped sample ``samples/demo_task.jsonl`` is ``make_demo_task_rows(400, seed=0)``;
held-out rows come from another seed with the training rows excluded.
"""

from __future__ import annotations

import random

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
QUESTIONS = {
    "first": "Spell the first digit of the number.",
    "last": "Spell the last digit of the number.",
}


def make_demo_task_rows(count: int, seed: int, exclude: set[tuple[str, str]] | None = None) -> list[dict]:
    """``count`` Alpaca-style rows (instruction, input, output); ``exclude`` holds (instruction, input) pairs to skip."""
    rng = random.Random(seed)
    exclude = set(exclude or ())
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    while len(rows) < count:
        which = rng.choice(("first", "last"))
        number = str(rng.randint(10, 99999))
        key = (QUESTIONS[which], number)
        if key in exclude or key in seen:
            continue
        seen.add(key)
        digit = number[0] if which == "first" else number[-1]
        rows.append({"instruction": key[0], "input": number, "output": DIGIT_WORDS[int(digit)]})
    return rows


QA_FACTS = {
    "color": ("red", "green", "blue", "yellow", "purple", "orange", "black", "white", "silver", "brown"),
    "city": ("Paris", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Dublin", "Oslo", "Prague", "Athens"),
    "animal": ("tiger", "rabbit", "falcon", "dolphin", "horse", "otter", "eagle", "panda", "wolf", "camel"),
    "code word": ("apple", "river", "stone", "cloud", "lemon", "garden", "rocket", "candle", "forest", "meadow"),
}


def make_qa_demo_rows(count: int, seed: int) -> list[dict]:
    """SQuAD-style rows: a few facts ("The city is Rome."), a question about one; the answer is a span.

    No row repeats another (a repeat would be a training row copied into the eval split).
    """
    rng = random.Random(seed)
    rows: list[dict] = []
    while len(rows) < count:
        attributes = rng.sample(list(QA_FACTS), rng.randint(2, 4))
        values = {attr: rng.choice(QA_FACTS[attr]) for attr in attributes}
        context = " ".join(f"The {attr} is {values[attr]}." for attr in attributes)
        asked = rng.choice(attributes)
        start = context.index(f"The {asked} is ") + len(f"The {asked} is ")
        row = {"context": context, "question": f"What is the {asked}?", "answers": {"text": [values[asked]], "answer_start": [start]}}
        if row not in rows:
            rows.append(row)
    return rows

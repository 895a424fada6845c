"""The dataset check in the Finetune tab of a real Chromium: an uploaded multi-turn chat shows its length histogram
and its first rows with every reply marked trained; a chat that calls tools without defining them is refused."""

from __future__ import annotations

import json

from browser_helpers import BROWSER_MARKS

pytestmark = BROWSER_MARKS

CHAT = [
    {"role": "user", "content": "Two plus two?"},
    {"role": "assistant", "content": "four"},
    {"role": "user", "content": "Three plus three?"},
    {"role": "assistant", "content": "six"},
]


def _upload(page, path) -> None:
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.wait_for_function(
        "name => document.querySelector('#mf-dataset input').value.includes(name)", arg=path.name, timeout=60_000
    )


def _check(page) -> None:
    if not page.locator("#mf-check-button").is_visible():
        page.get_by_text("Dataset check: what the model will learn").click()
    page.click("#mf-check-button")


def test_the_dataset_check_shows_the_histogram_and_the_trained_tokens(app, page, tmp_path):
    chats = tmp_path / "two-turn-chats.jsonl"
    long_answer = {"role": "assistant", "content": " ".join(["seven"] * 200)}
    rows = [{"messages": [*CHAT[:3], long_answer]}] + [{"messages": CHAT}] * 10 + [{"messages": [*CHAT[:3], long_answer]}]
    chats.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    page.goto(app.url)
    page.wait_for_selector("text=Ready.", timeout=120_000)
    _upload(page, chats)
    page.wait_for_selector("#mf-dataset-status >> text=conversational", timeout=60_000)
    length = page.locator("#mf-max_seq_length input").first
    length.fill("128")
    length.press("Tab")
    _check(page)
    page.wait_for_selector("#mf-check-view .mf-trained", timeout=120_000)
    page.screenshot(path=str(tmp_path / "dataset-check.png"), full_page=True)

    status = page.locator("#mf-check-status").inner_text()
    assert "Ready." in status and "12 rows" in status and "conversational" in status and "max_seq_length 128" in status
    first, second = page.locator("#mf-check-view .mf-row").nth(0), page.locator("#mf-check-view .mf-row").nth(1)
    assert [text.strip() for text in second.locator(".mf-trained").all_inner_texts()] == ["four<|end|>", "six<|end|>"]
    context = " ".join(second.locator(".mf-context").all_inner_texts())
    assert "Two plus two?" in context and "Three plus three?" in context  # the prompts are context, both replies trained
    assert first.locator(".mf-cut").count() == 1 and "seven" in first.locator(".mf-cut").inner_text()
    over = page.eval_on_selector_all("#mf-check-view .mf-hist-bar.mf-over", "bars => bars.map(b => +b.dataset.rows)")
    every = page.eval_on_selector_all("#mf-check-view .mf-hist-bar", "bars => bars.map(b => +b.dataset.rows)")
    assert sum(over) == 2 and sum(every) == 12  # the two long rows sit past max_seq_length


def test_a_chat_that_calls_tools_without_their_definitions_is_refused_by_the_check(app, page, tmp_path):
    calls = tmp_path / "tool-calls.jsonl"
    turns = [{"from": "human", "value": "Weather in Oslo?"}, {"from": "function_call", "value": '{"name": "weather", "arguments": {}}'},
             {"from": "observation", "value": "rain"}, {"from": "gpt", "value": "It rains."}]
    calls.write_text("".join(json.dumps({"conversations": turns}) + "\n" for _ in range(12)), encoding="utf-8")
    page.goto(app.url)
    page.wait_for_selector("text=Ready.", timeout=120_000)
    _upload(page, calls)
    _check(page)
    page.wait_for_selector("#mf-check-status >> text=Cannot train on this yet", timeout=120_000)
    status = page.locator("#mf-check-status").inner_text()
    assert "tool" in status and "tools" in status and "row 1" in status
    assert page.locator("#mf-check-view .mf-row").count() == 0

"""The Playground's message box and chats, and the Hardware tab's demo row, in a real Chromium (Debian's)."""

from __future__ import annotations

import httpx
import pytest

from app_server import wait_status
from browser_helpers import BROWSER_MARKS, chromium_page, open_tab, pick

# Ceilings for states on a busy 2-core machine; each wait ends as soon as the state is there.
ANSWER_MS = 180_000
LOAD_MS = 180_000

pytestmark = BROWSER_MARKS


@pytest.fixture
def page():
    with chromium_page(default_timeout_ms=60_000) as page:
        yield page


USER_MESSAGES = "(id) => document.querySelectorAll(`#${id} .message-row.user-row`).length"
# ``n`` answers with text, and the chat's status tracker hidden again: the event has ended (while it
# streams, a second Enter is ignored: Gradio runs one submit at a time).
ANSWERED = """([id, n]) => {
    const answers = [...document.querySelectorAll(`#${id} .message-row.bot-row`)];
    const tracker = document.querySelector(`#${id} [data-testid=status-tracker]`);
    return answers.length >= n && answers[n - 1].innerText.trim().length > 0 && (!tracker || tracker.classList.contains('hide'));
}"""


def _wait_answered(page, n: int) -> None:
    """Both chats hold ``n`` answers and the answer has ended (the base model answers last)."""
    for chat in ("mf-pg-tuned", "mf-pg-base"):
        page.wait_for_function(ANSWERED, arg=[chat, n], timeout=ANSWER_MS)


def _overlaps(page, inner: str, outer: str) -> bool:
    return page.evaluate(
        """([a, b]) => { const r = document.querySelector(a).getBoundingClientRect(), s = document.querySelector(b).getBoundingClientRect();
            return r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom; }""",
        [inner, outer],
    )


def test_enter_sends_shift_enter_adds_a_line_and_no_label_covers_an_answer(app, page, samples, tmp_path):
    config = {"model_name": app.demo_model(), "dataset": samples["sft"], "max_steps": 10, "output_name": "pg-keys"}
    job_id = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=120).json()["job_id"]
    status = wait_status(app.url, job_id, ("completed", "failed", "stopped", "interrupted"), timeout=600)
    assert status["status"] == "completed", status

    page.goto(app.url)
    open_tab(page, "Playground")
    pick(page, "mf-pg-model", "pg-keys")
    page.wait_for_selector("#mf-pg-status >> text=Loaded", timeout=LOAD_MS)
    box = page.locator("#mf-pg-message textarea")

    box.fill("Hello there")
    box.press("Enter")
    _wait_answered(page, 1)
    assert box.input_value() == "", "sent: the box is emptied"
    assert page.evaluate(USER_MESSAGES, "mf-pg-tuned") == page.evaluate(USER_MESSAGES, "mf-pg-base") == 1
    page.screenshot(path=str(tmp_path / "playground-answered.png"), full_page=True)

    box.click()
    box.type("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line", "Shift+Enter adds a line"
    box.press("Enter")  # sends both lines; had Shift+Enter sent "first line", there would be three questions
    _wait_answered(page, 2)
    assert page.evaluate(USER_MESSAGES, "mf-pg-tuned") == 2
    last_question = page.locator("#mf-pg-tuned .message-row.user-row").last.inner_text()
    assert "first line" in last_question and "second line" in last_question, last_question
    page.screenshot(path=str(tmp_path / "playground-two-lines.png"), full_page=True)

    for chat in ("mf-pg-tuned", "mf-pg-base"):
        # the barely trained demo model picks byte tokens at random: broken UTF-8 galore, never shown as U+FFFD
        assert "\ufffd" not in page.locator(f"#{chat}").inner_text()
        assert page.locator(f"#{chat} [data-testid=block-label]").count() == 0, "no label floats over the chat"
        assert not _overlaps(page, f"#{chat}-heading", f"#{chat}"), "the heading sits above the chat"
        assert page.locator(f"#{chat} .top-panel button").count() <= 1, "only the chat's clear icon in its corner"

    open_tab(page, "Hardware")
    page.wait_for_selector("#mf-recommendations >> text=demo model, trains offline", timeout=LOAD_MS)
    assert "Demo causal LM" in page.locator("#mf-recommendations").inner_text()
    page.screenshot(path=str(tmp_path / "hardware-demo-row.png"), full_page=True)
    for name in ("playground-answered", "playground-two-lines", "hardware-demo-row"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000

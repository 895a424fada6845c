"""The Models tab in a real Chromium: a second model from the same base, its card, metrics, kept messages."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from app_server import wait_status
from browser_helpers import BROWSER_MARKS, pick

FINAL = ("completed", "failed", "stopped", "interrupted")

pytestmark = BROWSER_MARKS


def _wait_text(page, selector: str, *parts: str, timeout: float = 60_000) -> str:
    """Wait until the element's text holds every one of ``parts``; return the text."""
    page.wait_for_function(
        "([sel, parts]) => { const e = document.querySelector(sel); return !!e && parts.every(p => e.innerText.includes(p)); }",
        arg=[selector, list(parts)], timeout=timeout,
    )
    return page.locator(selector).inner_text()


def test_a_second_model_from_one_base_shows_its_own_card_metrics_table_and_kept_messages(app, page, samples, tmp_path):
    config = {"model_name": app.demo_model(), "dataset": samples["sft"], "max_steps": 20, "eval_split": 0.2}
    job_ids = []
    for _ in range(2):  # no output_name: both get the same default name, the second one with "-2"
        response = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=60)
        assert response.status_code == 200, response.text
        job_ids.append(response.json()["job_id"])
    first, second = (wait_status(app.url, job_id, FINAL, timeout=600) for job_id in job_ids)
    assert first["status"] == second["status"] == "completed", (first, second)
    name = second["model_name"]
    assert name == first["model_name"] + "-2" and second["base_model"] == config["model_name"]
    record = httpx.get(f"{app.url}/api/models/{second['model_id']}").json()
    assert Path(record["path"]) == (app.home / "models" / job_ids[1]).resolve()

    page.goto(app.url)
    page.get_by_role("tab", name="Models").click()
    _wait_text(page, "#mf-models-table", name)
    pick(page, "mf-models-model", name)

    page.wait_for_function(
        "want => { const h = document.querySelector('#mf-models-card h1'); return !!h && h.innerText.trim() === want; }",
        arg=name, timeout=30_000,
    )
    card = _wait_text(page, "#mf-models-card", record["path"], "How to use")
    assert f'model_path = "{record["path"]}"' in card, "the snippet loads the model's final folder"
    assert ".partial" not in card and f"{name} is a fine-tuned version" in card

    page.wait_for_selector("#mf-models-metrics >> text=eval_loss")
    metrics = page.locator("#mf-models-metrics table")
    assert metrics.count() == 1, "the metrics are a table"
    header = metrics.locator("th").all_inner_texts()
    assert [h.strip() for h in header] == ["metric", "start of training", "end of training"], header
    row = metrics.locator("tr", has_text="eval_loss").first.locator("td").all_inner_texts()
    assert row[0].strip() == "eval_loss" and all(re.fullmatch(r"-?\d+(\.\d{1,4})?", v.strip()) for v in row[1:]), row
    assert not re.search(r"\d\.\d{5,}", metrics.inner_text()), "4 significant digits, no 17-digit numbers"
    assert metrics.locator("tr", has_text="steps").first.locator("td").all_inner_texts()[2].strip() == "20"
    page.screenshot(path=str(tmp_path / "models-second.png"), full_page=True)

    page.get_by_role("tab", name="Actions").click()
    export_dir = tmp_path / "merged"
    page.locator("#mf-models-export-dir textarea, #mf-models-export-dir input").first.fill(str(export_dir))
    page.click("#mf-models-export")
    _wait_text(page, "#mf-models-result", "Merged model saved", timeout=180_000)
    assert (export_dir / "model.safetensors").is_file()
    page.click("#mf-models-zip")
    result = _wait_text(page, "#mf-models-result", "zipped", "Merged model saved", timeout=60_000)
    page.wait_for_selector("#mf-models-zip-file >> text=.zip")
    messages = [line for line in result.splitlines() if line.strip()]
    zipped = next(line for line in messages if "zipped" in line)
    exported = next(line for line in messages if "Merged model saved" in line)
    assert messages.index(zipped) < messages.index(exported), "newest first"
    assert name in zipped and name in exported, "each message names the model"
    assert job_ids[1] not in result and second["model_id"] not in result, "by its name, never an id or its folder"
    page.screenshot(path=str(tmp_path / "models-messages.png"), full_page=True)

    # Compare: both models' curves on one chart, their final metrics side by side
    page.get_by_role("tab", name="Compare").click()  # its list now holds the models made since the page opened
    for model_name in (first["model_name"], name):
        pick(page, "mf-compare-pick", f"{model_name} (model)")
    page.click("#mf-compare")
    page.wait_for_function("() => document.querySelectorAll('#mf-compare-chart polyline').length === 2", timeout=60_000)
    series = page.eval_on_selector_all("#mf-compare-chart polyline", "lines => lines.map(l => l.dataset.series)")
    assert sorted(series) == sorted([first["model_name"], name]), series
    assert "eval loss by step" in page.locator("#mf-compare-chart").inner_text()
    table = _wait_text(page, "#mf-compare-metrics", "eval_loss", first["model_name"], name)
    assert "steps" in table
    page.screenshot(path=str(tmp_path / "models-compare.png"), full_page=True)

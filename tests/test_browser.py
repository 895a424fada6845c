"""The studio in a real Chromium (Debian's), driven by Playwright against ``python app.py``."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from app_server import AppServer, wait_status

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def app(tmp_path):
    server = AppServer(tmp_path / "home")
    yield server
    server.stop()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def _progress(page) -> dict:
    return page.eval_on_selector(
        "#mf-progress", "e => ({job: e.dataset.job, status: e.dataset.status, step: +e.dataset.step, percent: +e.dataset.percent})"
    )


def _wait_progress(page, predicate, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if page.locator("#mf-progress").count():
            last = _progress(page)
            if predicate(last):
                return last
        page.wait_for_timeout(250)
    raise AssertionError(f"progress never matched; last: {last}")


def _set_number(page, elem_id: str, value: str) -> None:
    field = page.locator(f"#{elem_id} input").first
    field.fill(value)
    field.press("Tab")


def test_train_in_the_browser_then_stop_a_second_run(app, page, tmp_path):
    page.goto(app.url)
    page.wait_for_selector("#mf-start")
    page.wait_for_selector("text=Ready.")  # the preselected demo sample was previewed and validated
    page.screenshot(path=str(tmp_path / "finetune-tab.png"), full_page=True)

    _set_number(page, "mf-learning_rate", "0")
    page.wait_for_selector("#mf-form-error >> text=learning_rate must be positive")
    page.click("#mf-start")
    page.wait_for_timeout(1500)
    assert httpx.get(app.url + "/api/finetune/jobs").json() == [], "a bad form value starts nothing"
    _set_number(page, "mf-learning_rate", "0.003")
    page.wait_for_function("() => !document.querySelector('#mf-form-error').innerText.includes('learning_rate')")

    _set_number(page, "mf-max_steps", "60")
    page.click("#mf-start")
    done = _wait_progress(page, lambda p: p["status"] == "completed")
    assert done["percent"] == 100 and done["step"] == 60
    page.wait_for_timeout(1000)
    lines = page.locator("#mf-loss-plot .mark-line path")
    assert lines.count() >= 1, "the loss plot draws lines"
    assert all(len(lines.nth(i).get_attribute("d") or "") > 10 for i in range(lines.count())), "lines have points"
    assert "Training started" in page.locator("#mf-log textarea").input_value()
    page.screenshot(path=str(tmp_path / "finetune-trained.png"), full_page=True)
    first_job = done["job"]

    _set_number(page, "mf-max_steps", "5000")
    page.click("#mf-start")
    running = _wait_progress(page, lambda p: p["job"] != first_job and p["status"] == "running" and p["step"] >= 1)
    page.click("#mf-stop")
    stopped = _wait_progress(page, lambda p: p["job"] == running["job"] and p["status"] == "stopped", timeout=60)
    assert 0 < stopped["step"] < 5000
    assert httpx.get(f"{app.url}/api/finetune/status/{running['job']}").json()["status"] == "stopped"
    page.screenshot(path=str(tmp_path / "finetune-stopped.png"), full_page=True)

    page.click("#mf-tab-hardware-button") if page.locator("#mf-tab-hardware-button").count() else page.get_by_role("tab", name="Hardware").click()
    page.wait_for_selector("text=Compute profile")
    page.screenshot(path=str(tmp_path / "hardware-tab.png"), full_page=True)
    for name in ("finetune-tab", "finetune-trained", "finetune-stopped", "hardware-tab"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_a_reloaded_page_reattaches_to_the_running_job(app, page, samples):
    config = {"model_name": app.demo_model(), "dataset": samples["sft"], "max_steps": 5000, "save_steps": 1000, "eval_split": 0}
    job_id = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=60).json()["job_id"]
    wait_status(app.url, job_id, ("running",))

    page.goto(app.url)
    seen = _wait_progress(page, lambda p: p["job"] == job_id and p["status"] == "running" and p["step"] >= 1)
    page.reload()
    again = _wait_progress(page, lambda p: p["job"] == job_id and p["status"] == "running" and p["step"] > seen["step"])
    log = page.locator("#mf-log textarea").input_value()
    assert "Job queued" in log and "Training started" in log, "the full history comes back after a reload"
    assert again["step"] > seen["step"]

    second = page.context.browser.new_page()  # a second browser session
    second.goto(app.url)
    _wait_progress(second, lambda p: p["job"] == job_id and p["status"] == "running")
    httpx.post(f"{app.url}/api/finetune/stop/{job_id}")
    _wait_progress(page, lambda p: p["job"] == job_id and p["status"] == "stopped", timeout=60)


def _pick(page, elem_id: str, text: str) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=text).first.click()


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_models_tab_playground_side_by_side_export_and_delete(app, page, samples, tmp_path):
    from modelforge_core.data.demo_task import make_demo_task_rows
    from modelforge_core.demo import DEMO_TRAINING

    config = {"model_name": app.demo_model(), "dataset": samples["sft"], **DEMO_TRAINING, "output_name": "digits-lora"}
    job_id = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=60).json()["job_id"]
    model_id = wait_status(app.url, job_id, ("completed",), timeout=300)["model_id"]

    page.goto(app.url)
    _open_tab(page, "Models")
    page.wait_for_function("() => document.querySelector('#mf-models-table').innerText.includes('digits-lora')")
    _pick(page, "mf-models-model", "digits-lora")
    page.wait_for_selector("#mf-models-metrics >> text=eval_loss")
    page.screenshot(path=str(tmp_path / "models-tab.png"), full_page=True)

    page.get_by_role("tab", name="Actions").click()
    page.click("#mf-models-open")
    page.wait_for_selector("#mf-pg-status >> text=Loaded")
    row = make_demo_task_rows(1, seed=7)[0]
    page.locator("#mf-pg-message textarea").fill(f"{row['instruction']}\n\n{row['input']}")
    page.click("#mf-pg-send")
    page.wait_for_function("() => document.querySelectorAll('#mf-pg-base .message').length >= 2", timeout=60_000)
    tuned = page.locator("#mf-pg-tuned").inner_text()
    base = page.locator("#mf-pg-base").inner_text()
    assert row["output"] in tuned, tuned
    assert base.strip() and base != tuned, "the base model answers next to the fine-tuned one"
    page.screenshot(path=str(tmp_path / "playground-tab.png"), full_page=True)

    _open_tab(page, "Models")
    page.get_by_role("tab", name="Actions").click()
    export_dir = tmp_path / "merged"
    page.locator("#mf-models-export-dir textarea, #mf-models-export-dir input").first.fill(str(export_dir))
    page.click("#mf-models-export")
    page.wait_for_selector("#mf-models-result >> text=Merged model saved", timeout=60_000)
    assert (export_dir / "model.safetensors").is_file()
    page.screenshot(path=str(tmp_path / "models-exported.png"), full_page=True)

    page.click("#mf-models-delete")
    page.wait_for_selector("#mf-models-result >> text=Tick the confirmation")
    page.locator("#mf-models-confirm input").check()
    page.click("#mf-models-delete")
    page.wait_for_function("() => !document.querySelector('#mf-models-table').innerText.includes('digits-lora')", timeout=30_000)
    assert all(m["id"] != model_id for m in httpx.get(app.url + "/api/models").json())
    page.screenshot(path=str(tmp_path / "models-deleted.png"), full_page=True)


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_a_run_that_will_not_fit_asks_first_and_a_recommendation_carries_into_finetune(app, page, tmp_path):
    page.goto(app.url)
    page.wait_for_selector("#mf-estimate >> text=Memory estimate")
    assert "fits" in page.locator("#mf-estimate").inner_text()

    _set_number(page, "mf-per_device_train_batch_size", "200000")
    page.wait_for_selector("#mf-estimate >> text=will not fit")
    page.click("#mf-start")
    page.wait_for_selector("#mf-confirm >> text=will probably run out of memory")
    page.screenshot(path=str(tmp_path / "will-not-fit.png"), full_page=True)
    assert httpx.get(app.url + "/api/finetune/jobs").json() == [], "nothing starts before the user confirms"
    page.click("#mf-start-anyway")
    deadline = time.monotonic() + 30
    while not (jobs := httpx.get(app.url + "/api/finetune/jobs").json()) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert len(jobs) == 1, "confirmed: it starts"
    httpx.post(f"{app.url}/api/finetune/stop/{jobs[0]['job_id']}", timeout=30)

    _open_tab(page, "Hardware")
    page.wait_for_selector("#mf-live >> text=RAM")
    page.wait_for_selector("#mf-recommendations >> text=SmolLM2-135M-Instruct")
    first = page.locator("#mf-recommendation input").first.input_value().split(" (")[0]  # "org/name (494M, sft)"
    assert "/" in first, first
    page.screenshot(path=str(tmp_path / "hardware-recommendations.png"), full_page=True)
    page.click("#mf-use-recommendation")

    page.wait_for_function(
        "want => document.querySelector('#mf-model input').value === want", arg=first, timeout=15_000
    )
    batch = page.locator("#mf-per_device_train_batch_size input").first.input_value()
    assert batch != "200000", "the recommendation's batch size replaced the one that did not fit"
    page.wait_for_selector("#mf-estimate >> text=fits")
    assert not page.locator("text=will probably run out of memory").is_visible(), "the question went with the settings"
    page.screenshot(path=str(tmp_path / "recommendation-carried.png"), full_page=True)

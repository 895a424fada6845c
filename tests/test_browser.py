"""The studio in a real Chromium (Debian's), driven by Playwright against ``python app.py``."""

from __future__ import annotations

import time

import httpx

from app_server import AppServer, wait_status
from browser_helpers import BROWSER_MARKS, chromium_page, open_tab, pick

pytestmark = BROWSER_MARKS


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


def _lines(page, chart: str) -> dict[str, dict]:
    """The chart's drawn lines: {series: {"points": n, "first_step": s}}."""
    return page.eval_on_selector_all(
        f"#{chart} polyline",
        "es => Object.fromEntries(es.map(e => [e.dataset.series, {points: +e.dataset.points, first_step: +e.dataset.firstStep}]))",
    )


def _log_follows(page) -> bool:
    """The log's newest line is in view (scrolled to the bottom, or nothing to scroll)."""
    return page.eval_on_selector("#mf-log textarea", "e => e.scrollTop + e.clientHeight >= e.scrollHeight - 8")


def test_train_in_the_browser_then_stop_a_second_run(app, page, tmp_path):
    page.goto(app.url)
    page.wait_for_selector("#mf-start")
    page.wait_for_selector("text=Ready.", timeout=120_000)  # the preselected demo sample was previewed and validated
    page.screenshot(path=str(tmp_path / "finetune-tab.png"), full_page=True)

    _set_number(page, "mf-learning_rate", "0")
    page.wait_for_selector("#mf-form-error >> text=learning_rate must be positive")
    page.click("#mf-start")
    page.wait_for_selector("#mf-run-notice >> text=Not started")  # the reason stands next to the button
    assert "learning_rate must be positive" in page.locator("#mf-run-notice").inner_text()
    assert httpx.get(app.url + "/api/finetune/jobs").json() == [], "a bad form value starts nothing"
    _set_number(page, "mf-learning_rate", "0.003")
    page.wait_for_function("() => !document.querySelector('#mf-form-error').innerText.includes('learning_rate')")

    _set_number(page, "mf-max_steps", "60")
    page.click("#mf-start")
    done = _wait_progress(page, lambda p: p["status"] == "completed", timeout=600)
    assert done["percent"] == 100 and done["step"] == 60
    page.wait_for_function("() => document.querySelectorAll('#mf-loss-plot polyline').length >= 2")
    lines = _lines(page, "mf-loss-plot")
    assert lines["train loss"]["points"] >= 5 and lines["eval loss"]["points"] >= 2, lines
    assert "Training started" in page.locator("#mf-log textarea").input_value()
    assert _log_follows(page), "the newest log line is in view"
    page.screenshot(path=str(tmp_path / "finetune-trained.png"), full_page=True)
    first_job = done["job"]

    _set_number(page, "mf-max_steps", "5000")
    page.click("#mf-start")
    running = _wait_progress(page, lambda p: p["job"] != first_job and p["status"] == "running" and p["step"] >= 11, timeout=300)
    page.wait_for_function("() => document.querySelector('#mf-loss-plot polyline[data-series=\"train loss\"]')")
    early = _lines(page, "mf-loss-plot")["train loss"]
    assert early["first_step"] <= 500, f"the train-loss line has points within the first 10% of the run: {early}"
    assert _progress(page)["step"] < 500, "...and shows them while the run is still in its first 10%"
    page.wait_for_function("() => document.querySelector('#mf-log textarea').value.split('\\n').length > 14")
    assert _log_follows(page), "the log keeps its newest line in view while lines arrive"

    page.reload()  # the form comes back with the attached job's settings
    _wait_progress(page, lambda p: p["job"] == running["job"] and p["status"] == "running")
    page.wait_for_function("() => document.querySelector('#mf-max_steps input').value === '5000'", timeout=30_000)
    page.wait_for_selector("#mf-estimate >> text=Memory estimate:")
    assert page.locator(".toast-body.error, span.error").all_inner_texts() == [], "restoring the settings raises nothing"
    page.click("#mf-stop")
    stopped = _wait_progress(page, lambda p: p["job"] == running["job"] and p["status"] == "stopped", timeout=120)
    assert 0 < stopped["step"] < 5000
    assert "Stopping job" in page.locator("#mf-run-notice").inner_text()
    assert httpx.get(f"{app.url}/api/finetune/status/{running['job']}").json()["status"] == "stopped"
    page.screenshot(path=str(tmp_path / "finetune-stopped.png"), full_page=True)

    page.click("#mf-tab-hardware-button") if page.locator("#mf-tab-hardware-button").count() else page.get_by_role("tab", name="Hardware").click()
    page.wait_for_selector("text=Compute profile")
    page.screenshot(path=str(tmp_path / "hardware-tab.png"), full_page=True)
    for name in ("finetune-tab", "finetune-trained", "finetune-stopped", "hardware-tab"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def _jobs(app) -> list[dict]:
    return httpx.get(app.url + "/api/finetune/jobs", timeout=30).json()


def _start_and_wait_for_job(page, app, count: int) -> dict:
    """Press Start; wait until the job list has ``count`` jobs and the panel shows the newest."""
    page.click("#mf-start")
    deadline = time.monotonic() + 120
    while len(jobs := _jobs(app)) < count and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(jobs) == count, jobs
    newest = max(jobs, key=lambda j: j["created_at"])
    _wait_progress(page, lambda p: p["job"] == newest["job_id"], timeout=30)
    return newest


def _pick_job(page, job_id: str) -> float:
    """Pick ``job_id`` in the job picker; seconds until the panel streams it."""
    page.locator("#mf-job input").first.click()
    option = page.get_by_role("option").filter(has_text=job_id).first
    started = time.monotonic()
    option.click()
    _wait_progress(page, lambda p: p["job"] == job_id, timeout=30)
    return time.monotonic() - started


def test_three_starts_queue_up_and_stop_acts_on_the_job_on_screen(app, page):
    page.goto(app.url)
    page.wait_for_selector("text=Ready.", timeout=120_000)
    _set_number(page, "mf-max_steps", "5000")
    first = _start_and_wait_for_job(page, app, 1)
    _wait_progress(page, lambda p: p["job"] == first["job_id"] and p["status"] == "running" and p["step"] >= 1, timeout=300)
    second = _start_and_wait_for_job(page, app, 2)
    page.wait_for_selector("#mf-status >> text=position 1 in the queue")
    third = _start_and_wait_for_job(page, app, 3)
    page.wait_for_selector("#mf-status >> text=position 2 in the queue")
    assert first["job_id"] in page.locator("#mf-status").inner_text(), "a queued job says what it waits for"
    assert third["job_id"] in page.locator("#mf-job input").first.input_value(), "the picker shows the job on screen"

    page.click("#mf-stop")  # the third job is on screen: it leaves the queue, the running one goes on
    page.wait_for_selector("#mf-run-notice >> text=taken out of the queue")
    _wait_progress(page, lambda p: p["job"] == third["job_id"] and p["status"] == "stopped", timeout=30)
    statuses = {j["job_id"]: j["status"] for j in _jobs(app)}
    assert statuses == {first["job_id"]: "running", second["job_id"]: "queued", third["job_id"]: "stopped"}, statuses

    seconds = _pick_job(page, first["job_id"])
    # at once (about a second on an idle machine), not when another job's stream ends (minutes away
    # here, as before issue 14); the ceiling is sized for a busy CI machine (the live view's latency is
    # benchmarked by bench/ui_latency.py)
    assert seconds < 10.0, f"the picked job streams at once, not after another job's stream (took {seconds:.2f} s)"
    shown = _wait_progress(page, lambda p: p["job"] == first["job_id"] and p["status"] == "running")
    _wait_progress(page, lambda p: p["job"] == first["job_id"] and p["step"] > shown["step"])  # live, not a snapshot
    page.click("#mf-stop")
    _wait_progress(page, lambda p: p["job"] == first["job_id"] and p["status"] == "stopped", timeout=120)

    _pick_job(page, second["job_id"])  # it starts by itself once the device is free
    _wait_progress(page, lambda p: p["job"] == second["job_id"] and p["status"] == "running" and p["step"] >= 1, timeout=300)
    page.click("#mf-stop")
    _wait_progress(page, lambda p: p["job"] == second["job_id"] and p["status"] == "stopped", timeout=120)


def test_a_page_opened_at_once_on_a_fresh_data_folder_shows_no_error_then_the_demo_preview(tmp_path):
    with chromium_page() as page:
        server = AppServer(tmp_path / "fresh-home")  # returns the moment "/" answers
        try:
            page.goto(server.url)
            errors, deadline = [], time.monotonic() + 300
            while time.monotonic() < deadline and "Ready." not in page.locator("#mf-dataset-status").inner_text():
                errors += page.locator(".toast-body.error, span.error").all_inner_texts()
                page.wait_for_timeout(100)
            assert "Ready." in page.locator("#mf-dataset-status").inner_text(), "the demo preview appears by itself"
            page.wait_for_selector("#mf-estimate >> text=Memory estimate:", timeout=300_000)
            errors += page.locator(".toast-body.error, span.error").all_inner_texts()
            assert errors == [], f"nothing is shown as an error while the libraries load: {errors}"
            assert "rows" in page.locator("#mf-dataset-status").inner_text()
            assert "Traceback" not in server.log_path.read_text(errors="replace"), "no handler failed in the server"
        finally:
            server.stop()


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


def test_models_tab_playground_side_by_side_export_and_delete(app, page, samples, tmp_path):
    from modelforge_core.data.demo_task import make_demo_task_rows
    from modelforge_core.demo import DEMO_TRAINING

    config = {"model_name": app.demo_model(), "dataset": samples["sft"], **DEMO_TRAINING, "output_name": "digits-lora"}
    job_id = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=60).json()["job_id"]
    model_id = wait_status(app.url, job_id, ("completed",), timeout=1200)["model_id"]  # a ceiling, not a wait

    page.goto(app.url)
    open_tab(page, "Models")
    page.wait_for_function("() => document.querySelector('#mf-models-table').innerText.includes('digits-lora')")
    pick(page, "mf-models-model", "digits-lora")
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

    open_tab(page, "Models")
    page.get_by_role("tab", name="Actions").click()
    export_dir = tmp_path / "merged"
    page.locator("#mf-models-export-dir textarea, #mf-models-export-dir input").first.fill(str(export_dir))
    page.click("#mf-models-export")
    page.wait_for_selector("#mf-models-result >> text=Merged model saved", timeout=60_000)
    assert (export_dir / "model.safetensors").is_file()
    page.wait_for_selector("#mf-models-parity >> text=Parity report (merged)")
    page.screenshot(path=str(tmp_path / "models-exported.png"), full_page=True)

    page.get_by_label("GGUF (llama.cpp, Ollama, LM Studio)").check()
    page.wait_for_selector("#mf-models-export-type", state="visible")
    pick(page, "mf-models-export-type", "q4_0")
    gguf_dir = tmp_path / "gguf"
    page.locator("#mf-models-export-dir textarea, #mf-models-export-dir input").first.fill(str(gguf_dir))
    page.click("#mf-models-export")
    page.wait_for_selector("#mf-models-result >> text=GGUF file (Q4_0)", timeout=120_000)
    parity = page.locator("#mf-models-parity")
    page.wait_for_selector("#mf-models-parity >> text=Parity report (gguf q4_0)")
    rows = {r.locator("td").first.inner_text().strip(): r.locator("td").nth(1).inner_text().strip()
            for r in parity.locator("table tbody tr").all()}
    assert rows == {name: "ok" for name in ("merged = adapter on base", "GGUF answers = merged", "held-out perplexity",
                                            "end token", "chat template", "tokenizer", "Modelfile template")}, rows
    assert f"ollama create digits-lora -f {gguf_dir / 'Modelfile'}" in parity.inner_text()
    assert (gguf_dir / "digits-lora-q4_0.gguf").is_file() and (gguf_dir / "Modelfile").is_file()
    page.screenshot(path=str(tmp_path / "models-gguf.png"), full_page=True)

    page.click("#mf-models-delete")
    page.wait_for_selector("#mf-models-result >> text=Tick the confirmation")
    page.locator("#mf-models-confirm input").check()
    page.click("#mf-models-delete")
    page.wait_for_function("() => !document.querySelector('#mf-models-table').innerText.includes('digits-lora')", timeout=30_000)
    assert all(m["id"] != model_id for m in httpx.get(app.url + "/api/models").json())
    page.screenshot(path=str(tmp_path / "models-deleted.png"), full_page=True)


def test_a_run_that_will_not_fit_asks_first_and_a_recommendation_carries_into_finetune(app, page, tmp_path):
    page.goto(app.url)
    page.wait_for_selector("#mf-estimate >> text=Memory estimate")
    assert "fits" in page.locator("#mf-estimate").inner_text()
    # beside Start, with the memory: how long the form's run takes on this machine
    page.wait_for_selector("#mf-estimate >> text=Time estimate: about", timeout=120_000)
    steps = page.locator("#mf-max_steps input").first.input_value()
    timing = page.locator("#mf-estimate").inner_text()
    assert f"per step x {steps} steps" in timing and "a matmul probe of this machine" in timing, timing

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

    open_tab(page, "Hardware")
    page.wait_for_selector("#mf-live >> text=RAM")
    page.wait_for_selector("#mf-recommendations >> text=SmolLM2-135M-Instruct")
    assert "est. s/step" in page.locator("#mf-recommendations").inner_text()
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


def test_a_preference_method_trains_from_the_form_with_its_own_settings_and_its_plot(app, page):
    page.goto(app.url)
    page.wait_for_selector("text=Ready.", timeout=120_000)
    assert not page.locator("#mf-method-settings").is_visible(), "SFT has no settings of its own"
    pick(page, "mf-strategy", "orpo")
    page.wait_for_selector("#mf-orpo_beta", state="visible")
    assert not page.locator("#mf-dpo_beta").is_visible() and not page.locator("#mf-rewards").is_visible(), "only ORPO's own"
    page.wait_for_function("() => document.querySelector('#mf-dataset input').value.includes('preference_sample')")
    page.wait_for_selector("#mf-dataset-status >> text=Ready.", timeout=60_000)
    _set_number(page, "mf-orpo_beta", "0.2")
    _set_number(page, "mf-max_steps", "24")
    page.click("#mf-start")
    done = _wait_progress(page, lambda p: p["status"] == "completed", timeout=600)
    assert done["step"] == 24
    page.wait_for_function("() => document.querySelector('#mf-metrics-plot polyline[data-series=\"rewards/accuracies\"]')")
    lines = _lines(page, "mf-metrics-plot")
    assert lines["rewards/accuracies"]["points"] >= 2 and lines["rewards/accuracies"]["first_step"] == 0, lines
    assert {"logps/chosen", "logps/rejected", "rewards/margins"} <= set(lines), "ORPO's log-probabilities and margin too"
    model = httpx.get(f"{app.url}/api/models/{_jobs(app)[0]['model_id']}", timeout=30).json()
    assert model["strategy"] == "orpo" and model["config"]["orpo_beta"] == 0.2, model["config"]
    assert model["metrics"]["reward_accuracy"] is not None and "initial_reward_accuracy" in model["metrics"], model["metrics"]

    pick(page, "mf-strategy", "sft")
    page.wait_for_selector("#mf-method-settings", state="hidden")

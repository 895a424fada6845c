"""HardwareService on recorded NVML / psutil / torch readings: one per kind of machine."""

from __future__ import annotations

import json
import sys
import types
from collections import namedtuple

import pytest

from modelforge_core.hardware import detection
from modelforge_core.services.hardware_service import HardwareService

GB = 1024**3
Memory = namedtuple("Memory", "total free used")
Utilization = namedtuple("Utilization", "gpu memory")
VirtualMemory = namedtuple("VirtualMemory", "total available")
NO_TORCH_GPU = {"cuda": False, "cuda_devices": 0, "cuda_version": None, "bf16": False, "mps": False}


class NVMLError(Exception):
    pass


def fake_pynvml(gpus: list[dict] | None = None, init_error: str | None = None, count_error: str | None = None):
    """A pynvml module answering with recorded readings: each gpu is {name, total_gb, free_gb, cc}."""
    module = types.ModuleType("pynvml")
    module.NVMLError = NVMLError
    module.NVML_TEMPERATURE_GPU = 0

    def init():
        if init_error:
            raise NVMLError(init_error)

    def count():
        if count_error:
            raise NVMLError(count_error)
        return len(gpus or [])

    module.nvmlInit = init
    module.nvmlShutdown = lambda: None
    module.nvmlSystemGetDriverVersion = lambda: b"550.54.15"
    module.nvmlDeviceGetCount = count
    module.nvmlDeviceGetHandleByIndex = lambda i: gpus[i]
    module.nvmlDeviceGetName = lambda g: g["name"].encode()
    module.nvmlDeviceGetMemoryInfo = lambda g: Memory(int(g["total_gb"] * GB), int(g["free_gb"] * GB), int((g["total_gb"] - g["free_gb"]) * GB))
    module.nvmlDeviceGetCudaComputeCapability = lambda g: g["cc"]
    module.nvmlDeviceGetUtilizationRates = lambda g: Utilization(g.get("busy", 0), 0)

    def temperature(g, sensor):
        if "temp" not in g:
            raise NVMLError("Not Supported")
        return g["temp"]

    module.nvmlDeviceGetTemperature = temperature
    return module


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """detect() on a machine described by its readings."""

    def detect(pynvml, ram_gb: float, torch_view: dict | None = None, probe: bool | None = None) -> dict:
        monkeypatch.setitem(sys.modules, "pynvml", pynvml)
        monkeypatch.setattr("psutil.virtual_memory", lambda: VirtualMemory(int(ram_gb * GB), int(ram_gb * 0.8 * GB)))
        monkeypatch.setattr(detection, "torch_accelerators", lambda: {**NO_TORCH_GPU, **(torch_view or {})})
        if probe is not None:
            monkeypatch.setattr(detection, "needs_torch_probe", lambda gpus: probe)
        return HardwareService(tmp_path).detect()

    return detect


def test_no_gpu_is_the_cpu_profile_with_float32(machine):
    found = machine(fake_pynvml(init_error="NVML Shared Library Not Found"), ram_gb=16)
    assert found["compute_profile"] == "cpu" and found["training_device"] == "cpu"
    assert found["gpus"] == [] and "NVML Shared Library Not Found" in found["notes"][0]
    assert found["profile_defaults"]["bf16"] is False and found["profile_defaults"]["fp16"] is False
    assert found["profile_defaults"]["use_4bit"] is False


def test_nvml_missing_is_not_an_error(machine):
    found = machine(None, ram_gb=8)  # sys.modules["pynvml"] = None makes the import fail
    assert found["compute_profile"] == "cpu"
    assert "nvidia-ml-py is not installed" in found["notes"][0]


def test_one_small_gpu_is_low_end_with_fp16_and_4bit(machine):
    gpu = {"name": "NVIDIA GeForce GTX 1650", "total_gb": 4.0, "free_gb": 3.6, "cc": (7, 5), "busy": 3, "temp": 41}
    found = machine(fake_pynvml([gpu]), ram_gb=16, torch_view={"cuda": True, "cuda_devices": 1, "cuda_version": "12.4"})
    assert found["compute_profile"] == "low_end" and found["training_memory_gb"] == 4.0
    assert found["gpus"][0]["compute_capability"] == "7.5" and found["gpus"][0]["temperature_c"] == 41
    assert found["profile_defaults"] | {"fp16": True, "bf16": False, "use_4bit": True} == found["profile_defaults"]


def test_one_large_gpu_is_high_end_with_bf16(machine):
    gpu = {"name": "NVIDIA GeForce RTX 4090", "total_gb": 23.99, "free_gb": 23.5, "cc": (8, 9)}
    found = machine(fake_pynvml([gpu]), ram_gb=64, torch_view={"cuda": True, "cuda_devices": 1, "bf16": True})
    assert found["compute_profile"] == "high_end"
    assert found["profile_defaults"]["bf16"] is True and found["profile_defaults"]["fp16"] is False
    assert "temperature_c" not in found["gpus"][0], "a reading NVML does not support is left out"


def test_two_gpus_are_listed_and_the_profile_uses_the_larger_one(machine):
    gpus = [
        {"name": "NVIDIA GeForce RTX 3060", "total_gb": 12.0, "free_gb": 11.0, "cc": (8, 6)},
        {"name": "NVIDIA GeForce GTX 1060", "total_gb": 6.0, "free_gb": 5.9, "cc": (6, 1)},
    ]
    found = machine(fake_pynvml(gpus), ram_gb=32, torch_view={"cuda": True, "cuda_devices": 2, "bf16": True})
    assert [g["name"] for g in found["gpus"]] == ["NVIDIA GeForce RTX 3060", "NVIDIA GeForce GTX 1060"]
    assert found["training_memory_gb"] == 12.0 and found["compute_profile"] == "mid_range"


def test_apple_mps_uses_the_shared_ram(machine):
    found = machine(None, ram_gb=16, torch_view={"mps": True}, probe=True)
    assert found["training_device"] == "mps" and found["apple_mps"] is True
    assert found["compute_profile"] == "mid_range"
    assert found["profile_defaults"]["bf16"] is False and found["profile_defaults"]["use_4bit"] is False


def test_a_gpu_that_torch_cannot_use_trains_on_the_cpu_and_says_why(machine):
    gpu = {"name": "NVIDIA A10G", "total_gb": 22.0, "free_gb": 21.0, "cc": (8, 6)}
    found = machine(fake_pynvml([gpu]), ram_gb=32, torch_view={"cuda": False})
    assert found["compute_profile"] == "cpu" and len(found["gpus"]) == 1
    assert any("CPU-only build" in note for note in found["notes"])


def test_an_nvml_error_during_the_query_is_caught(machine):
    found = machine(fake_pynvml([], count_error="GPU is lost"), ram_gb=16)
    assert found["compute_profile"] == "cpu" and "GPU is lost" in found["notes"][0]


def test_live_reading_lists_gpu_memory_and_utilization(monkeypatch, tmp_path):
    gpu = {"name": "NVIDIA L4", "total_gb": 22.0, "free_gb": 12.0, "cc": (8, 9), "busy": 87}
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([gpu]))
    reading = HardwareService(tmp_path).live()
    assert reading["gpus"][0]["memory_used_gb"] == 10.0 and reading["gpus"][0]["utilization_percent"] == 87
    assert 0 <= reading["cpu_percent"] <= 100 and reading["ram_total_gb"] > 0


def test_the_first_live_cpu_reading_is_real(tmp_path):
    """psutil.cpu_percent(interval=None) answers 0.0 at its first call on each thread; the live reading does not."""
    import threading

    busy = threading.Event()

    def burn():
        while not busy.is_set():
            sum(range(10_000))

    burner = threading.Thread(target=burn, daemon=True)
    burner.start()
    readings = []
    try:
        reader = threading.Thread(target=lambda: readings.append(HardwareService(tmp_path).live()["cpu_percent"]))
        reader.start()  # a fresh thread, as Gradio's workers are
        reader.join()
    finally:
        busy.set()
        burner.join()
    assert 0 < readings[0] <= 100, readings


def test_cpu_busy_percent_counts_busy_time_between_two_readings():
    from modelforge_core.services.hardware_service import cpu_busy_percent

    Times = namedtuple("Times", "user nice system idle iowait")
    assert cpu_busy_percent(Times(10, 0, 5, 100, 5), Times(13, 0, 6, 103, 5)) == pytest.approx(4 / 7 * 100, abs=0.1)
    assert cpu_busy_percent(Times(1, 0, 1, 1, 0), Times(1, 0, 1, 1, 0)) == 0.0


TASKS = ("text-generation", "summarization", "extractive-question-answering")


@pytest.mark.parametrize("task", TASKS)
def test_the_demo_model_is_recommended_as_trainable_offline(demo_home, demo_models, task):
    from modelforge_core.services.model_catalog import ModelCatalog
    from modelforge_core.settings import Settings

    service = HardwareService(demo_home)
    items = service.recommendations(task, service.detect())
    demo = [item for item in items if item["demo"]]
    assert [item["model_id"] for item in demo] == [ModelCatalog(Settings(home=demo_home)).demo_model_for_task(task)]
    assert demo[0]["note"] == "demo model, trains offline" and demo[0]["peak_gb"] > 0 and demo[0]["strategy"] == "sft"
    assert items[-1] is demo[0], "the hub models first, largest first; the demo model last"
    unbuilt = HardwareService(demo_home / "elsewhere")  # no demo model built there: the others only, nothing built
    assert not any(item["demo"] for item in unbuilt.recommendations(task, service.detect()))
    assert not (demo_home / "elsewhere").exists()


def test_cli_and_http_estimates_are_the_tables(demo_home, monkeypatch, tmp_path, capsys):
    """The same settings give the same peak: the table, `estimate` with the settings or the Finetune tab's
    config.json, and POST /api/hardware/estimate."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.routers import api_routes
    from modelforge_core.cli import main
    from modelforge_core.cli_hardware import estimate_args
    from modelforge_core.hardware.recommendations import recommendation_config
    from modelforge_core.services.hardware_service import reference_machine

    monkeypatch.setenv("MODELFORGE_HOME", str(demo_home))
    service = HardwareService(demo_home)

    def cli_peak(*args: str) -> float:
        assert main([*args, "--json"]) == 0
        return json.loads(capsys.readouterr().out)["peak_gb"]

    for profile in ("cpu", "mid_range"):
        machine = reference_machine(profile)
        device = ["--device", machine["training_device"], "--memory-gb", str(machine["training_memory_gb"])]
        for task in TASKS:
            for item in service.recommendations(task, machine):
                assert cli_peak(*estimate_args(item), *device) == item["peak_gb"], (profile, item["model_id"])
                config = recommendation_config(item["model_id"], task, item["settings"])
                path = tmp_path / "config.json"
                path.write_text(json.dumps(config.model_dump(mode="json", exclude={"dataset"})), encoding="utf-8")
                assert cli_peak("estimate", "--config", str(path), *device) == item["peak_gb"], (profile, item["model_id"])

    client = TestClient(FastAPI(routes=api_routes()))
    here = service.detect()
    for item in service.recommendations("text-generation", here):
        body = recommendation_config(item["model_id"], "text-generation", item["settings"]).model_dump(mode="json")
        response = client.post("/api/hardware/estimate", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["peak_gb"] == item["peak_gb"], item["model_id"]

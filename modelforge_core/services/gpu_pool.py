"""``GpuPool``: which of this machine's GPUs each running job holds, and which a queued job gets.

A job asks for ``num_processes`` GPUs (or names them with ``gpu_ids``); the queue starts it when that
many are free and gives its worker ``CUDA_VISIBLE_DEVICES`` for them, so jobs run side by side, one
set of GPUs each. A machine without GPUs is a pool of one place, "cpu": one job at a time, as
before. What a job holds is written into its run folder (``devices.json``, with this machine's
name), so that every app and CLI on the machine (even of another data folder sharing the database)
sees the same holders; a running job without that file is taken to hold every device.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from ..files import write_text_atomic

CPU_PLACE = "cpu"
DEVICES_FILE = "devices.json"


@dataclass(frozen=True)
class GpuPool:
    """This machine's training devices, as ``CUDA_VISIBLE_DEVICES`` names them ("0", "1", ...); () is a CPU machine."""

    gpus: tuple[str, ...] = ()
    host: str = ""

    @classmethod
    def from_machine(cls, machine: dict, environ: dict | None = None) -> GpuPool:
        """The GPUs of a hardware report (``HardwareService.detect``), within the app's own CUDA_VISIBLE_DEVICES."""
        environ = os.environ if environ is None else environ
        gpus = [str(gpu["index"]) for gpu in machine.get("gpus", [])]
        visible = environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            allowed = [part.strip() for part in visible.split(",") if part.strip()]
            gpus = [gpu for gpu in gpus if gpu in allowed]
        return cls(tuple(gpus), socket.gethostname())

    @property
    def places(self) -> tuple[str, ...]:
        return self.gpus or (CPU_PLACE,)

    def places_for(self, config) -> tuple[str, ...] | str:
        """The places ``config`` needs; a str says why it can never run on this machine."""
        if not self.gpus:
            return (CPU_PLACE,)
        if config.gpu_ids is not None:
            missing = [str(i) for i in config.gpu_ids if str(i) not in self.gpus]
            if missing:
                return f"GPU {', '.join(missing)} is not among this machine's GPUs ({', '.join(self.gpus)})"
            return tuple(str(i) for i in config.gpu_ids)
        if config.num_processes > len(self.gpus):
            return f"it asks for {config.num_processes} GPUs and this machine has {len(self.gpus)}"
        return ()  # any free ones

    def choose(self, config, held: dict[str, str]) -> tuple[str, ...] | None:
        """The places to start ``config`` on now, or None while they are held (``held``: place -> job id)."""
        wanted = self.places_for(config)
        if isinstance(wanted, str):
            raise ValueError(wanted)
        if wanted:
            return None if any(place in held for place in wanted) else wanted
        free = [gpu for gpu in self.gpus if gpu not in held]
        return tuple(free[: config.num_processes]) if len(free) >= config.num_processes else None

    def held_by(self, active_jobs: list[dict]) -> dict[str, str]:
        """place -> job id, for the running jobs of this machine."""
        held: dict[str, str] = {}
        for job in active_jobs:
            places = read_places(Path(job["run_dir"]))
            if places is None:  # started before devices were recorded, or its file is unreadable: all of them
                places = {"host": self.host, "places": list(self.places)}
            if places.get("host") != self.host:
                continue
            for place in places.get("places", []):
                held[place] = job["id"]
        return held

    def environment(self, places: tuple[str, ...]) -> dict[str, str]:
        """The worker's environment for its places: CUDA_VISIBLE_DEVICES on a GPU machine."""
        return {"CUDA_VISIBLE_DEVICES": ",".join(places)} if self.gpus else {}


def write_places(run_root: Path, host: str, places: tuple[str, ...]) -> None:
    write_text_atomic(Path(run_root) / DEVICES_FILE, json.dumps({"host": host, "places": list(places)}))


def read_places(run_root: Path) -> dict | None:
    try:
        return json.loads((Path(run_root) / DEVICES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def holder_words(places: tuple[str, ...] | list[str], held: dict[str, str]) -> str:
    """e.g. "GPU 0 is held by job ab12; GPU 1 is held by job cd34"."""
    parts = [f"{'GPU ' + place if place != CPU_PLACE else 'the CPU'} is held by job {held[place]}" for place in places if place in held]
    return "; ".join(parts)

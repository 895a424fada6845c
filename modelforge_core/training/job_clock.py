"""Time over a whole job, and a time-left figure that waits for a steady rate.

``JobClock`` counts the seconds the job's training processes have run, summed over resumes, so a
resumed job's elapsed time goes on from where it stopped. ``StepRate`` gives the time left only
once a few steps have run after the first one (which carries warm-up: allocation, compilation,
caches), from the steps of a recent window, so the first figure shown is not from one slow step.
"""

from __future__ import annotations

import time
from collections import deque

PHASES = {
    "starting": "Starting the training process",
    "loading_model": "Loading the model",
    "preparing_data": "Preparing the data",
    "first_step": "Running the first step",
    "training": "Training",
    "evaluating": "Evaluating",
    "saving": "Saving the model",
}


class JobClock:
    """``elapsed()``: seconds of earlier runs of the job plus the time since this run started."""

    def __init__(self, prior_s: float = 0.0, started_at: float | None = None):
        self.prior_s = max(prior_s, 0.0)
        self.started_at = time.time() if started_at is None else started_at

    @classmethod
    def from_events(cls, events: list[dict]) -> JobClock:
        """The clock of the run that starts now: its process start is the last ``starting`` status event.

        Earlier runs count with the last ``elapsed_s`` any of their events carried.
        """
        starts = [i for i, e in enumerate(events) if e.get("type") == "status" and e.get("status") == "starting"]
        if not starts:
            return cls()
        current = starts[-1]
        prior = max((e["elapsed_s"] for e in events[:current] if isinstance(e.get("elapsed_s"), (int, float))), default=0.0)
        started = events[current].get("time")
        return cls(prior, min(started, time.time()) if isinstance(started, (int, float)) else None)

    def elapsed(self) -> float:
        return round(self.prior_s + max(time.time() - self.started_at, 0.0), 2)


class StepRate:
    """Seconds per step over the last ``window`` steps, leaving out the first step after each (re)start.

    ``add`` is called at the start of training, then after each step.
    """

    def __init__(self, min_steps: int = 5, min_seconds: float = 2.0, window: int = 50):
        self.min_steps = min_steps
        self.min_seconds = min_seconds
        self._marks: deque[tuple[int, float]] = deque(maxlen=window + 1)
        self._first_step: int | None = None

    def restart(self) -> None:
        """A new run or stage: its first step is warm-up again."""
        self._marks.clear()
        self._first_step = None

    def add(self, step: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._first_step is None:
            self._first_step = step  # the (re)start: the next step carries the warm-up, timing starts after it
            return
        if step <= (self._marks[-1][0] if self._marks else self._first_step):
            return
        self._marks.append((step, now))

    def seconds_per_step(self) -> float | None:
        """None until ``min_steps`` steps and ``min_seconds`` have passed since the first step."""
        if len(self._marks) < 2:
            return None
        (first_step, first_time), (last_step, last_time) = self._marks[0], self._marks[-1]
        steps, seconds = last_step - first_step, last_time - first_time
        if steps < self.min_steps or seconds < self.min_seconds:
            return None
        return seconds / steps

    def seconds_left(self, step: int, total: int) -> float | None:
        rate = self.seconds_per_step()
        return None if rate is None or not total else round(rate * max(total - step, 0), 1)

"""``TokenStream``: what ``model.generate`` streams into for the Playground, read as growing text.

transformers' TextIteratorStreamer decodes in the generating thread at every token and wakes the
reader for every word; on a CPU the reader then competes with generation for the cores and the
GIL (measured on 2 cores: 0.8x the tokens/s of a bare ``generate``). Here ``put`` only appends the
new token ids; the reader wakes on the first token (so the time to first token stays short), then
at most every ``min_interval`` seconds, and decodes everything so far in one call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

REPLACEMENT_CHAR = "\ufffd"  # a multi-byte character cut in half by the last token


class TokenStream:
    """Collects generated token ids (``put``/``end``, the streamer protocol of ``generate``)."""

    def __init__(self, tokenizer: Any, skip_prompt: bool, min_interval: float = 0.05):
        self.tokenizer = tokenizer
        self.min_interval = min_interval
        self._skip_next = skip_prompt  # generate's first put is the prompt
        self._ids: list[int] = []
        self._changed = threading.Event()
        self._done = False

    def put(self, value: Any) -> None:
        if self._skip_next:
            self._skip_next = False
            return
        self._ids.extend(value.reshape(-1).tolist())
        self._changed.set()

    def end(self) -> None:
        self._done = True
        self._changed.set()

    def texts(self) -> Iterator[str]:
        """The decoded answer so far (stripped), each time it changed, until ``end()``.

        Waits ``min_interval`` after each yield, not before the first: a first token that decodes
        to nothing visible (a space, a special token) does not delay the first text.
        """
        decoded, shown = 0, ""
        while True:
            self._changed.wait()
            self._changed.clear()
            finished, ids = self._done, list(self._ids)
            if len(ids) > decoded:
                decoded = len(ids)
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                text = (text if finished else text.rstrip(REPLACEMENT_CHAR)).strip()
                if text and text != shown:
                    shown = text
                    yield text
                    if not finished:
                        time.sleep(self.min_interval)
            if finished:
                return

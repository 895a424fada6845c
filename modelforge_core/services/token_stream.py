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

# What a byte-level tokenizer's decode gives for bytes that are not (yet) a whole UTF-8 character: a
# character cut in half by the last token, a generation stopped mid-character (max_new_tokens, Stop),
# or a byte sequence that is no character at all (sampling can pick any byte token).
REPLACEMENT_CHAR = "\ufffd"


def visible_text(decoded: str) -> str:
    """The decoded answer as shown: without U+FFFD (never a whole character here) and stripped.

    A character cut in half at the end reappears whole once its last byte arrives (the ids are
    decoded again from the start each time); one that never completes, or bytes that were never a
    character, are dropped. A model that really writes U+FFFD loses it too: it cannot be told apart.
    """
    return decoded.replace(REPLACEMENT_CHAR, "").strip()


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
        """The decoded answer so far (see :func:`visible_text`), each time it changed, until ``end()``.

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
                text = visible_text(self.tokenizer.decode(ids, skip_special_tokens=True))
                if text and text != shown:
                    shown = text
                    yield text
                    if not finished:
                        time.sleep(self.min_interval)
            if finished:
                return

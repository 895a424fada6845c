"""TokenStream: what generate() streams into for the Playground."""

from __future__ import annotations

import threading
import time

import torch

from modelforge_core.services.token_stream import TokenStream


class BytesTokenizer:
    """Token id = one byte of UTF-8; a character cut in half decodes to U+FFFD, like byte-level BPE."""

    def decode(self, ids, skip_special_tokens=True):
        return bytes(i for i in ids if i != 0).decode("utf-8", errors="replace")


def _feed(stream: TokenStream, chunks: list[bytes], prompt: bytes | None) -> None:
    if prompt is not None:
        stream.put(torch.tensor([list(prompt)]))
    for chunk in chunks:
        stream.put(torch.tensor(list(chunk)))
    stream.end()


def test_the_prompt_is_skipped_and_the_text_grows_to_the_whole_answer():
    stream = TokenStream(BytesTokenizer(), skip_prompt=True, min_interval=0.0)
    _feed(stream, [b" ", b"Hello", b" world"], prompt=b"PROMPT")
    texts = list(stream.texts())
    assert texts[-1] == "Hello world"
    assert all("PROMPT" not in t for t in texts)
    assert all(t == t.strip() and t for t in texts)  # never an empty or padded text


def test_a_half_character_is_held_back_until_its_second_byte():
    stream = TokenStream(BytesTokenizer(), skip_prompt=False, min_interval=0.0)
    euro = "€".encode()
    texts = []
    stream.put(torch.tensor(list(b"costs 5") + [euro[0]]))
    reader = stream.texts()
    texts.append(next(reader))
    stream.put(torch.tensor(list(euro[1:])))
    stream.end()
    texts.extend(reader)
    assert texts[0] == "costs 5"  # not "costs 5\ufffd"
    assert texts[-1] == "costs 5€"


def test_the_reader_follows_a_generating_thread():
    stream = TokenStream(BytesTokenizer(), skip_prompt=False, min_interval=0.001)
    words = [f"w{i} ".encode() for i in range(200)]
    thread = threading.Thread(target=_feed, args=(stream, words, None))
    thread.start()
    texts = list(stream.texts())
    thread.join()
    assert texts[-1] == "".join(w.decode() for w in words).strip()
    assert len(texts) >= 1 and all(a != b for a, b in zip(texts, texts[1:]))


def test_a_character_cut_off_by_the_end_of_generation_is_dropped_from_the_final_text():
    stream = TokenStream(BytesTokenizer(), skip_prompt=False, min_interval=0.0)
    euro = "€".encode()
    _feed(stream, [b"costs 5", euro[:1], euro[1:2]], prompt=None)  # max_new_tokens reached mid-character
    texts = list(stream.texts())
    assert texts[-1] == "costs 5"
    assert all("\ufffd" not in t for t in texts), texts


def test_bytes_that_are_no_character_never_show():
    stream = TokenStream(BytesTokenizer(), skip_prompt=False, min_interval=0.0)
    _feed(stream, [b"ab", b"\xff", b"\x80cd", b" \xe2\x82", b"ef"], prompt=None)  # invalid and truncated sequences
    texts = list(stream.texts())
    assert texts[-1] == "abcd ef"
    assert all("\ufffd" not in t for t in texts), texts


def test_every_streamed_text_is_free_of_half_characters():
    """One byte per token from a generating thread: the reader decodes mid-character again and again."""
    answer = "Grüße, 東京 😀 ok"
    stream = TokenStream(BytesTokenizer(), skip_prompt=False, min_interval=0.0)

    def generate():
        for byte in answer.encode():
            stream.put(torch.tensor([byte]))
            time.sleep(0.001)
        stream.end()

    thread = threading.Thread(target=generate)
    thread.start()
    texts = list(stream.texts())
    thread.join()
    assert texts[-1] == answer
    assert all("\ufffd" not in t for t in texts), texts

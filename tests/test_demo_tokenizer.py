"""The demo tokenizer is trained on a fixed corpus: shipping a new sample must not change it."""

from __future__ import annotations

import shutil

from modelforge_core.data.samples import SAMPLES_DIR
from modelforge_core.demo import tokenizer as demo_tokenizer


def test_a_new_sample_file_does_not_change_the_demo_tokenizers_corpus(tmp_path, monkeypatch):
    before = demo_tokenizer._corpus()
    for path in SAMPLES_DIR.glob("*.jsonl"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "new_sample.jsonl").write_text('{"instruction": "zebra quagga okapi", "output": "okapi"}\n' * 50)
    monkeypatch.setattr(demo_tokenizer, "SAMPLES_DIR", tmp_path)
    assert demo_tokenizer._corpus() == before
    assert set(demo_tokenizer.CORPUS_SAMPLES) <= {path.name for path in SAMPLES_DIR.glob("*.jsonl")}

"""Where a run's tokenized rows are kept, so that a second run of the same data does not tokenize again.

The key is the rows' content (``datasets``' fingerprint of the split rows, which follows the file's
content, the column mapping, replacements and the split), the tokenizer (its vocabulary, special tokens
and chat template) and every setting that changes the tokens. Files live in ``<data folder>/cache/tokenized``
(safe to delete: they are made again when needed).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

TOKENIZATION_VERSION = 2  # raise when token_masks changes what it writes: older files are then not read


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A digest of what decides the tokens: the vocabulary and merges, special tokens and the chat template."""
    digest = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        digest.update(backend.to_str().encode("utf-8"))
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode("utf-8"))
    special = {"bos": tokenizer.bos_token, "eos": tokenizer.eos_token, "pad": tokenizer.pad_token}
    digest.update(json.dumps([special, getattr(tokenizer, "chat_template", None) or ""], default=str).encode("utf-8"))
    return digest.hexdigest()[:16]


def cache_file_for(home: Path, rows: Any, tokenizer: Any, settings: dict[str, Any]) -> str:
    """The cache file of ``rows`` tokenized by ``tokenizer`` with ``settings`` (a JSON-able dict)."""
    key = json.dumps(
        {"rows": rows._fingerprint, "tokenizer": tokenizer_fingerprint(tokenizer), "settings": settings,
         "version": TOKENIZATION_VERSION},
        sort_keys=True, default=str,
    )
    folder = Path(home) / "cache" / "tokenized"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}.arrow")

"""Writing a merged causal model to one GGUF file with the ``gguf`` package (llama.cpp's Python library).

Tensors are converted and written one at a time (memory holds the model plus one converted tensor).
Types: F16, BF16, Q8_0 and Q4_0; the ``gguf`` package quantizes no K-quants, so those are not offered.
Vectors (norms, biases) stay F32, as llama.cpp's converter keeps them; a matrix whose rows do not split
into 32-value blocks stays F16; in a Q4_0 file the output head (the embedding, when tied) is Q8_0,
since it is the tensor most sensitive to 4-bit rounding (llama.cpp's quantizer also keeps it higher).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .formats import GGUF_TYPES, QUANTIZED_TYPES
from .gguf_arch import gguf_architecture, gguf_tensors, write_hyperparameters
from .gguf_vocab import gguf_vocab, write_vocab


@dataclass
class GGUFWritten:
    """The file written, its size, and what a reader should know about it."""

    path: Path
    bytes: int
    type: str
    architecture: str
    tensors: int
    notes: list[str] = field(default_factory=list)


def _ggml_type(name: str):
    import gguf

    return {"f16": gguf.GGMLQuantizationType.F16, "bf16": gguf.GGMLQuantizationType.BF16,
            "q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}[name]


def _file_type(name: str):
    import gguf

    return {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
            "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[name]


def _tensor_type(gguf_name: str, data: np.ndarray, type_name: str, output_head: str):
    """The ggml type this tensor is written in (see the module docstring)."""
    import gguf

    if data.ndim == 1:
        return gguf.GGMLQuantizationType.F32
    wanted = "q8_0" if type_name == "q4_0" and gguf_name == output_head else type_name
    if wanted in QUANTIZED_TYPES and data.shape[-1] % gguf.GGML_QUANT_SIZES[_ggml_type(wanted)][0] != 0:
        return gguf.GGMLQuantizationType.F16
    return _ggml_type(wanted)


def _converted(data: np.ndarray, ggml_type) -> np.ndarray:
    import gguf

    if ggml_type == gguf.GGMLQuantizationType.F32:
        return data.astype(np.float32)
    if ggml_type == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16)
    return gguf.quants.quantize(data.astype(np.float32), ggml_type)


def write_gguf(model: Any, tokenizer: Any, path: Path, type_name: str, name: str,
               progress: Callable[[float, str], None] | None = None) -> GGUFWritten:
    """Write ``model`` (merged, in memory) and ``tokenizer`` to ``path`` as one GGUF file of ``type_name``.

    Raises ConfigurationError for an architecture or tokenizer that cannot be written (before any byte is)."""
    import gguf

    if type_name not in GGUF_TYPES:
        from ..exceptions import ConfigurationError

        raise ConfigurationError(f"'{type_name}' is not a GGUF type ModelForge writes.",
                                 f"Pick one of: {', '.join(GGUF_TYPES)}.")
    config = model.config
    arch = gguf_architecture(config)
    vocab = gguf_vocab(tokenizer, int(config.vocab_size))
    state = model.state_dict()
    tied = bool(getattr(config, "tie_word_embeddings", False))
    output_head = "token_embd.weight" if tied else "output.weight"

    writer = gguf.GGUFWriter(path, arch.gguf_arch)
    writer.add_name(name)
    writer.add_file_type(_file_type(type_name))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    write_hyperparameters(writer, config, arch)
    write_vocab(writer, vocab)

    plan, kept_f16 = [], []
    for gguf_name, data in gguf_tensors(state, config, arch):
        ggml_type = _tensor_type(gguf_name, data, type_name, output_head)
        if ggml_type == gguf.GGMLQuantizationType.F16 and data.ndim > 1 and type_name != "f16":
            kept_f16.append(gguf_name)
        if ggml_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            dtype = np.float32 if ggml_type == gguf.GGMLQuantizationType.F32 else np.float16
            writer.add_tensor_info(gguf_name, data.shape, np.dtype(dtype), data.size * np.dtype(dtype).itemsize)
        else:
            byte_shape = gguf.quant_shape_to_byte_shape(data.shape, ggml_type)
            writer.add_tensor_info(gguf_name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=ggml_type)
        plan.append((gguf_name, ggml_type))

    try:
        writer.write_header_to_file(path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for index, ((gguf_name, data), (_, ggml_type)) in enumerate(zip(gguf_tensors(state, config, arch), plan)):
            writer.write_tensor_data(_converted(data, ggml_type))
            if progress is not None:
                progress((index + 1) / len(plan), f"Wrote {gguf_name} ({index + 1} of {len(plan)} tensors)")
    finally:
        writer.close()

    notes = list(vocab.notes)
    if type_name == "q4_0":
        notes.append(f"{output_head} is Q8_0: the output head loses the most to 4-bit rounding.")
    if kept_f16:
        notes.append(f"{len(kept_f16)} matrices stay F16: their rows do not split into 32-value blocks ({', '.join(kept_f16[:3])}).")
    return GGUFWritten(path=path, bytes=path.stat().st_size, type=type_name, architecture=arch.gguf_arch,
                       tensors=len(plan), notes=notes)

"""The export formats and GGUF types ModelForge writes (importing this imports nothing heavy)."""

EXPORT_FORMATS = ("merged", "adapter", "gguf")
GGUF_TYPES = ("f16", "bf16", "q8_0", "q4_0")
QUANTIZED_TYPES = ("q8_0", "q4_0")

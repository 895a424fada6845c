"""Exports of a registered model: merged weights, the adapter, GGUF (with an Ollama Modelfile), and the
parity report that checks each export answers as the fine-tuned model did."""

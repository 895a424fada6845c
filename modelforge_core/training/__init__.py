"""One training run: its files, its events, the trainer callback, and the pipeline the worker runs."""

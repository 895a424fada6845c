"""CLI command about datasets: ``data check`` (what a model will learn from a dataset, before training)."""

from __future__ import annotations

import argparse

from .cli_output import print_json
from .exceptions import ConfigurationError


def add_parsers(sub) -> None:
    """Adds ``data check`` to the CLI's subcommands."""
    data = sub.add_parser("data", help="Check a dataset: shape, problems, token lengths, what the model will learn.")
    data_sub = data.add_subparsers(dest="action", required=True)
    check = data_sub.add_parser(
        "check", help="Report a dataset as a run would train it: rows, shape, problems, truncated and dropped rows, "
                      "the first rows with the trained tokens marked. Nothing is trained."
    )
    check.add_argument("dataset", nargs="?", help="A .jsonl/.json/.csv/.parquet file or a Hub dataset id (default: the config's).")
    check.add_argument("--model", help="Hub id or local model folder; its tokenizer and config.json are read (default: the config's).")
    check.add_argument("--task", default=None, help="Default: the config's task, or text-generation.")
    check.add_argument("--strategy", default=None, help="Default: the config's strategy, or sft.")
    check.add_argument("--max-seq-length", type=int, default=None, help="Default: the config's, or 512.")
    check.add_argument("--config", help="A TrainingConfig JSON file for the other data settings (column_mapping, "
                                        "replacements, eval_split, seed, mask_history, ...); the options above override it.")
    check.add_argument("--json", action="store_true", help="Print one JSON object.")


def cmd_data(args: argparse.Namespace) -> int:
    """Print the check's report; exit 0 when training would take the data, 2 when it would refuse it."""
    from .data.check import check_dataset
    from .schemas import parse_training_config
    from .schemas.training_config import read_config_file

    config = read_config_file(args.config) if args.config else {}
    for key, value in (("dataset", args.dataset), ("model_name", args.model), ("task", args.task), ("strategy", args.strategy),
                       ("max_seq_length", args.max_seq_length)):
        if value is not None:
            config[key] = value
    missing = [name for name, key in (("a dataset FILE", "dataset"), ("--model", "model_name")) if not config.get(key)]
    if missing:
        raise ConfigurationError(f"data check needs {' and '.join(missing)}.", "Give them, or a --config that names them.")
    import datasets

    datasets.disable_progress_bars()
    report = check_dataset(parse_training_config(config))
    if args.json:
        print_json(report.to_dict())
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 2

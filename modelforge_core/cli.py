"""``python -m modelforge_core`` (or ``modelforge``): demo, train, jobs, models, evaluate, info, hardware, estimate, data.

User errors print the message and a hint and exit with 2; a failed job exits with 1.
"""

from __future__ import annotations

import argparse
import sys

from .cli_data import add_parsers as add_data_parsers
from .cli_data import cmd_data
from .cli_export import add_export_parser, cmd_export
from .cli_hardware import add_parsers as add_hardware_parsers
from .cli_hardware import cmd_estimate, cmd_hardware
from .cli_machines import add_launch_arguments, check_machine_rank, join_job, launch_overrides, print_join_commands
from .cli_output import EventPrinter, print_json, print_table
from .exceptions import ConfigurationError, ModelForgeException
from .logging_config import setup_logging

EXIT_OK, EXIT_JOB_FAILED, EXIT_USER_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelforge", description="Fine-tune language models, headless.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="Build the offline demo models; print them and the sample datasets.")
    demo.add_argument("--json", action="store_true", help="Print one JSON object.")
    demo.add_argument("--force", action="store_true", help="Rebuild the demo models.")
    demo.add_argument("--config", action="store_true", help="Write a ready-to-train demo config; print its path only.")

    train = sub.add_parser("train", help="Train from a JSON config; Ctrl-C stops the job cleanly.")
    train.add_argument("--config", help="Path of a TrainingConfig JSON file (machine 0, or one machine).")
    train.add_argument("--max-steps", type=int, metavar="N", help="Stop after N steps (overrides the config's max_steps).")
    train.add_argument("--detach", action="store_true", help="Submit and return; follow with `jobs follow ID`.")
    add_launch_arguments(train)

    jobs = sub.add_parser("jobs", help="List, follow, stop or resume training jobs.")
    jobs_sub = jobs.add_subparsers(dest="action", required=True)
    jobs_list = jobs_sub.add_parser("list")
    jobs_list.add_argument("--json", action="store_true")
    for name in ("show", "follow"):
        jobs_sub.add_parser(name).add_argument("job_id")
    resume = jobs_sub.add_parser("resume")
    resume.add_argument("job_id")
    resume.add_argument("--num-processes", type=int, help="Resume on this many processes instead of the job's own (ddp, fsdp).")
    stop = jobs_sub.add_parser("stop")
    stop.add_argument("job_id")
    stop.add_argument("--force", action="store_true", help="Kill at once; keeps only the last periodic checkpoint.")

    models = sub.add_parser("models", help="List, show or delete registered models; rescan the model folders.")
    models_sub = models.add_subparsers(dest="action", required=True)
    models_list = models_sub.add_parser("list")
    models_list.add_argument("--json", action="store_true")
    models_sub.add_parser("show").add_argument("model")
    compare = models_sub.add_parser(
        "compare", help="Two or more models or jobs side by side: final metrics, config differences (--json: also the curves)."
    )
    compare.add_argument("runs", nargs="+", metavar="MODEL_OR_JOB")
    compare.add_argument("--json", action="store_true")
    delete = models_sub.add_parser("delete")
    delete.add_argument("model")
    delete.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
    rescan = models_sub.add_parser(
        "rescan", help="Register the model folders (MODELFORGE_HOME/models) the registry lacks, e.g. after a lost database."
    )
    rescan.add_argument("--json", action="store_true")
    add_export_parser(models_sub)

    evaluate = sub.add_parser("evaluate", help="Evaluate a registered model and its base on a dataset.")
    evaluate.add_argument("model", help="Model id or name (see `models list`).")
    evaluate.add_argument("--dataset", required=True, help="A dataset file or Hub id in a shape the model's task accepts.")
    evaluate.add_argument("--samples", type=int, default=64, help="Rows to evaluate (generation is slow on a CPU).")
    evaluate.add_argument("--json", action="store_true")

    rerun = sub.add_parser("rerun", help="Queue a registered model's run again, exactly (its config, data and seed).")
    rerun.add_argument("model", help="Model name or id, or the id of the job that trained it.")
    rerun.add_argument("--yes", action="store_true", help="Rerun even though the dataset changed since.")
    rerun.add_argument("--detach", action="store_true", help="Queue and return; follow with `jobs follow ID`.")

    info = sub.add_parser("info", help="Providers, strategies and tasks that work here.")
    info.add_argument("--json", action="store_true")
    add_hardware_parsers(sub)
    add_data_parsers(sub)
    return parser


def cmd_demo(args: argparse.Namespace) -> int:
    from .data.samples import sample_dataset_paths
    from .demo import build_demo_models, write_demo_config
    from .settings import get_settings

    settings = get_settings().ensure_dirs()
    result = {"models": build_demo_models(settings, force=args.force), "datasets": sample_dataset_paths()}
    if args.config:
        print(write_demo_config(settings))
    elif args.json:
        print_json(result)
    else:
        print("Demo models:")
        for kind, path in result["models"].items():
            print(f"  {kind}: {path}")
        print("Sample datasets:")
        for key, path in result["datasets"].items():
            print(f"  {key}: {path}")
    return EXIT_OK


def follow_job(service, job_id: str) -> int:
    """Print the job's events until it ends; the first Ctrl-C stops it cleanly, a second leaves it."""
    printer = EventPrinter()
    stopping = False
    while True:
        try:
            for event in service.follow(job_id):
                printer.show(event)
            break
        except KeyboardInterrupt:
            if stopping:
                print(f"\nLeft job {job_id} stopping in the background.")
                return EXIT_JOB_FAILED
            stopping = True
            print("\nStopping: saving a checkpoint (Ctrl-C again to stop waiting)...")
            service.stop(job_id)
    status = service.get_job(job_id)["status"]
    return EXIT_OK if status in ("completed", "stopped") else EXIT_JOB_FAILED


def cmd_train(args: argparse.Namespace) -> int:
    from .dependencies import get_training_service

    check_machine_rank(args)
    if args.job:
        return join_job(args)
    if not args.config:
        raise ConfigurationError("train needs --config FILE (or, on machines 1..M-1, --job ID --machine-rank R).")
    from .schemas.training_config import config_data
    from .services.sweeps import is_sweep

    service = get_training_service()
    config = args.config
    overrides = launch_overrides(args) | ({"max_steps": args.max_steps} if args.max_steps is not None else {})
    data = config_data(config)  # the sweep is read before the config is checked
    if overrides or is_sweep(data):
        config = {**data, **overrides}
    if is_sweep(config):
        return _train_sweep(service, config, args.detach)
    job = service.submit(config)
    print(f"Job {job['id']} submitted ({job['status']}).")
    print_join_commands(job, service.settings.database_url)
    if args.detach:
        return EXIT_OK
    return follow_job(service, job["id"])


def _train_sweep(service, config: dict, detach: bool) -> int:
    """Queue the sweep's jobs, follow them in turn, then compare them."""
    jobs = service.submit_sweep(config)
    ids = [job["id"] for job in jobs]
    for job in jobs:
        print(f"Job {job['id']} submitted ({job['status']}): {job['config']['output_name']}.")
    compare = f"python -m modelforge_core models compare {' '.join(ids)}"
    if detach:
        print(f"When they are done: {compare}")
        return EXIT_OK
    codes = [follow_job(service, job_id) for job_id in ids]
    print()
    print_comparison(compare_runs_here(service, ids))
    return max(codes)


def compare_runs_here(training, refs: list[str]) -> dict:
    from .dependencies import get_model_service
    from .services.run_comparison import compare_runs

    return compare_runs(training, get_model_service(), refs)


def cmd_jobs(args: argparse.Namespace) -> int:
    from .dependencies import get_training_service

    service = get_training_service()
    if args.action == "list":
        jobs = service.list_jobs()
        if args.json:
            print_json(jobs)
        else:
            for job in jobs:
                job["model"] = job["config"].get("model_name")
            print_table(jobs, ["id", "status", "queue_position", "current_step", "total_steps", "model", "created_at", "model_id"])
        return EXIT_OK
    if args.action == "show":
        print_json(service.get_job(args.job_id))
    elif args.action == "follow":
        return follow_job(service, args.job_id)
    elif args.action == "stop":
        job = service.stop(args.job_id, force=args.force)
        print(f"Job {job['id']}: {job['status']}")
    elif args.action == "resume":
        job = service.resume(args.job_id, num_processes=args.num_processes)
        print(f"Job {job['id']} queued to resume.")
        return follow_job(service, job["id"])
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .dependencies import get_model_service

    if args.action == "export":
        return cmd_export(args)
    if args.action == "compare":
        return cmd_compare(args)
    service = get_model_service()
    if args.action == "list":
        models = service.list_models()
        if args.json:
            print_json(models)
        else:
            for model in models:
                metrics = model.get("metrics") or {}
                model["eval_loss"] = metrics.get("eval_loss")
            print_table(models, ["id", "name", "base_model", "task", "strategy", "eval_loss", "created_at"])
    elif args.action == "show":
        print_json(service.get_model(args.model))
    elif args.action == "delete":
        model = service.get_model(args.model)
        if not args.yes:
            answer = input(f"Delete model {model['name']} and its files at {model['path']}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing deleted.")
                return EXIT_OK
        result = service.delete_model(model["id"])
        print(result.get("message") or f"Deleted {model['name']}.")
    elif args.action == "rescan":
        from .services.registry_rescan import rescan_models
        from .settings import get_settings

        report = rescan_models(service, get_settings().ensure_dirs())
        if args.json:
            print_json(report.to_dict())
        else:
            print("\n".join(report.summary_lines()))
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from .dependencies import get_training_service

    result = compare_runs_here(get_training_service(), args.runs)
    if args.json:
        print_json(result)
    else:
        print_comparison(result)
    return EXIT_OK


def print_comparison(result: dict) -> None:
    """The runs, their final metrics side by side, and the config fields that differ, as plain tables."""
    from .services.run_comparison import comparison_table, differences_table

    labels = [run["label"] for run in result["runs"]]
    print("Runs:")
    print_table([{"run": run["label"], "kind": run["kind"], "status": run["status"], "job": run["job_id"]}
                 for run in result["runs"]], ["run", "kind", "status", "job"])
    print("\nFinal metrics:")
    print_table([{k: v if k == "metric" or v is None else _fmt(v) for k, v in row.items()} for row in comparison_table(result)],
                ["metric", *labels])
    print("\nConfig fields that differ:")
    print_table(differences_table(result), ["field", *labels])


def cmd_evaluate(args: argparse.Namespace) -> int:
    from datasets.utils.logging import disable_progress_bar as quiet_datasets
    from transformers.utils.logging import disable_progress_bar as quiet_transformers

    from .dependencies import get_evaluation_service

    quiet_datasets(), quiet_transformers()
    result = get_evaluation_service().evaluate(args.model, args.dataset, samples=args.samples)
    if args.json:
        print_json(result)
        return EXIT_OK
    print(f"{result['name']} ({result['task']}) on {result['rows']} rows:")
    rows = [{"metric": k, "fine-tuned": _fmt(v), "base": _fmt(result["base"].get(k))} for k, v in result["model"].items()]
    print_table(rows, ["metric", "fine-tuned", "base"])
    return EXIT_OK


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def cmd_info(args: argparse.Namespace) -> int:
    from .services.info import system_info

    info = system_info().to_dict()
    if args.json:
        print_json(info)
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return EXIT_OK


def cmd_rerun(args: argparse.Namespace) -> int:
    from .dependencies import get_model_service, get_training_service
    from .services.rerun import rerun_model

    training = get_training_service()
    result = rerun_model(training, get_model_service(), args.model, allow_changed_data=args.yes)
    for note in result["notes"]:
        print(f"Note: {note}")
    job = result["job"]
    print(f"Job {job['id']} submitted ({job['status']}): {result['model']['name']} again, as {job['config']['output_name']}.")
    if args.detach:
        return EXIT_OK
    code = follow_job(training, job["id"])
    if training.get_job(job["id"])["status"] == "completed":
        print()
        print_comparison(compare_runs_here(training, [result["model"]["id"], job["id"]]))
    return code


COMMANDS = {
    "demo": cmd_demo, "train": cmd_train, "jobs": cmd_jobs, "models": cmd_models, "evaluate": cmd_evaluate, "info": cmd_info,
    "hardware": cmd_hardware, "estimate": cmd_estimate, "data": cmd_data, "rerun": cmd_rerun,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("WARNING")
    try:
        return COMMANDS[args.command](args)
    except ModelForgeException as exc:
        print(f"error ({type(exc).__name__}): {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_USER_ERROR

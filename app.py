"""ModelForge: the Gradio studio and its HTTP API on one server. ``python app.py --help``.

The composition root: decides who can reach the app (local, or shared: a ``--host`` other than
loopback, ``--share``, or a Space) and hands that and the size limits to the core's settings, builds
the services once, the Gradio Blocks from ``ui/``, the ``/api`` routes from ``api/``, and launches.
Training runs in worker processes, never in this one.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import sys
import threading
from pathlib import Path

from modelforge_core.exceptions import ModelForgeException


def positive_megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of megabytes")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    on_space = bool(os.environ.get("SPACE_ID"))
    parser = argparse.ArgumentParser(prog="python app.py", description="Start the ModelForge studio.")
    parser.add_argument("--host", default="0.0.0.0" if on_space else "127.0.0.1",
                        help="Address to bind (default 127.0.0.1; 0.0.0.0 on a Hugging Face Space).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="Port (default 7860).")
    parser.add_argument("--share", action="store_true", help="Also open a public *.gradio.live link (needs internet).")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="Require this login for the UI and the API.")
    parser.add_argument("--data-dir", metavar="PATH", help="Data folder (MODELFORGE_HOME): database, runs, models.")
    parser.add_argument(
        "--allow-path", action="append", default=[], metavar="DIR",
        help="When others can reach the app (--host not loopback, --share, a Space), datasets and model folders are read "
             "only from uploads, the data folder and the samples: also allow DIR (repeatable; env MODELFORGE_ALLOW_PATHS).",
    )
    parser.add_argument("--max-upload-mb", type=positive_megabytes, metavar="MB",
                        help="Largest dataset upload in MB (default 1024; env MODELFORGE_MAX_UPLOAD_MB).")
    return parser.parse_args(argv)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit("--auth must look like user:password")
    return user, password


def reachable_by_others(host: str, share: bool, on_space: bool) -> bool:
    """False only for a loopback address (127.0.0.1, ::1, localhost) without --share, off a Space."""
    if share or on_space:
        return True
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name: other machines may resolve it to this one


def configure_access(args: argparse.Namespace) -> None:
    """Pass the access mode, the allowed folders and the upload limit to the core (its settings read them)."""
    exposed = reachable_by_others(args.host, args.share, bool(os.environ.get("SPACE_ID")))
    given = [entry for entry in os.environ.get("MODELFORGE_ALLOW_PATHS", "").split(os.pathsep) if entry.strip()]
    folders = []
    for entry in given + args.allow_path:
        folder = Path(entry).expanduser().resolve()
        if not folder.is_dir():
            raise SystemExit(f"--allow-path {entry}: no such folder. Give an existing folder (or fix MODELFORGE_ALLOW_PATHS).")
        folders.append(str(folder))
    os.environ["MODELFORGE_EXPOSED"] = "1" if exposed else "0"
    os.environ["MODELFORGE_ALLOW_PATHS"] = os.pathsep.join(dict.fromkeys(folders))
    if args.max_upload_mb:
        os.environ["MODELFORGE_MAX_UPLOAD_MB"] = repr(args.max_upload_mb)


def build_context():
    """Every service, built once, and what is known at start: what works here, the machine, the samples."""
    from modelforge_core.dependencies import (
        get_dataset_service,
        get_evaluation_service,
        get_export_service,
        get_hardware_service,
        get_model_catalog,
        get_model_service,
        get_playground_service,
        get_training_service,
    )
    from modelforge_core.services.info import system_info
    from ui import UIContext

    hardware, datasets = get_hardware_service(), get_dataset_service()
    return UIContext(
        training=get_training_service(),
        models=get_model_service(),
        datasets=datasets,
        hardware=hardware,
        catalog=get_model_catalog(),
        playground=get_playground_service(),
        exports=get_export_service(),
        evaluation=get_evaluation_service(),
        info=system_info(),
        machine=hardware.machine(),
        samples=datasets.sample_paths(),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    auth = parse_auth(args.auth)
    if args.data_dir:
        os.environ["MODELFORGE_HOME"] = os.path.abspath(os.path.expanduser(args.data_dir))
    configure_access(args)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import gradio_fast_start

    gradio_fast_start.install()  # before the first `import gradio`
    from api import app_kwargs
    from api.security import configure_auth
    from modelforge_core.logging_config import setup_logging
    from modelforge_core.settings import MEGABYTE, get_settings
    from ui import CSS, build_ui

    setup_logging()
    try:
        settings = get_settings()
        ctx = build_context()
    except ModelForgeException as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 2
    print(f"Access: {ctx.info.access['description']}.", flush=True)
    ctx.training.start_background_dispatch()
    # torch and transformers load only once the server answers, so they do not slow the first page
    server_up = threading.Event()
    ctx.catalog.prepare_in_background(after=server_up)
    configure_auth(auth)
    with gradio_fast_start.server_app_built_at_launch():
        blocks = build_ui(ctx)
        blocks.queue(default_concurrency_limit=16)  # handlers run 16 at a time
    blocks.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=auth,
        show_error=True,
        css=CSS,
        max_file_size=int(settings.max_upload_mb * MEGABYTE),
        app_kwargs=app_kwargs(settings.max_body_mb),
        prevent_thread_lock=True,
    )
    server_up.set()
    blocks.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())

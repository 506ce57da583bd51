"""The ``qiboconnection`` command line: ``qiboconnection serve`` and friends.

Subcommands register themselves in :data:`COMMANDS`; each adds its parser and names the function
that runs it. Heavy modules (server, qibo) are imported only inside those functions so that
``qiboconnection --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qiboconnection.cli_client import COMMANDS as CLIENT_COMMANDS
from qiboconnection.cli_client import EXIT_CODES_EPILOG, OneLineErrorParser

if TYPE_CHECKING:
    from qiboconnection.cli_client import Subcommands

Command = Callable[[argparse.Namespace], int]


def default_db_path() -> Path:
    """The server database in the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("qiboconnection", appauthor=False)) / "qaas.sqlite3"


def _add_serve(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run a local QaaS server",
        description="Run a local QaaS server speaking the hosted protocol, backed by SQLite and qibo's simulator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite database file, or :memory: (default: qaas.sqlite3 in the user data directory)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:API_KEY[:admin]",
        help="make sure this user exists with this API key (repeatable)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="job worker processes, 0 to only queue jobs (default: %(default)s)",
    )
    parser.add_argument(
        "--job-time-limit",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="a job running longer is stopped and ends in error (default: %(default)g)",
    )
    parser.add_argument(
        "--job-memory-limit",
        type=int,
        default=4096,
        metavar="MIB",
        help="memory a job may use beyond a warm worker's; past it the job ends in error (default: %(default)s)",
    )
    faults = parser.add_argument_group(
        "fault injection", "make a share of API requests fail, to test clients against a flaky service"
    )
    faults.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of API requests that meet a fault, 0 to 1 (default: 0)",
    )
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault stream (default: 0)")
    faults.add_argument(
        "--fault-kinds",
        default="all",
        metavar="KINDS",
        help="comma-separated among 500,502,503,429,latency,drop, or all (default: all)",
    )
    faults.add_argument(
        "--fault-max-latency",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="largest latency added by a latency fault (default: %(default)s, at most 10)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay every API request by this much, like a distant service (default: 0, at most 10)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log level"
    )
    parser.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    import secrets
    import signal
    import socket
    import sqlite3
    import warnings

    from qiboconnection.server.config import ServerConfig, UserSpec

    out = sys.stdout
    try:
        users = [UserSpec.parse(text) for text in args.user]
    except ValueError as exc:
        print(f"error: --user: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if args.workers < 0:
        print("error: --workers must be >= 0", file=sys.stderr)  # noqa: T201
        return 2
    if not args.job_time_limit > 0 or args.job_memory_limit <= 0:
        print("error: --job-time-limit and --job-memory-limit must be positive", file=sys.stderr)  # noqa: T201
        return 2
    if not 0.0 <= args.latency <= 10.0:
        print("error: --latency must be between 0 and 10 seconds", file=sys.stderr)  # noqa: T201
        return 2
    from qiboconnection.server.faults import check_fault_settings, parse_kinds

    try:
        fault_kinds = parse_kinds(args.fault_kinds)
        check_fault_settings(args.fault_rate, fault_kinds, args.fault_max_latency, 1)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    db = args.db or str(default_db_path())
    _configure_logging(args.log_level)

    from qiboconnection.server.db import Store

    created: UserSpec | None = None
    if not users:
        if db == ":memory:":
            existing = 0
        else:
            try:
                probe = Store(db)
            except (sqlite3.Error, OSError) as exc:
                print(f"error: cannot open the database {db}: {exc}", file=sys.stderr)  # noqa: T201
                return 1
            existing = probe.count_users()
            probe.close()
        if existing == 0:
            created = UserSpec("admin", secrets.token_urlsafe(24), "admin")
            users = [created]

    import uvicorn

    # connexion imports starlette's test client, which warns about its httpx dependency on every start;
    # nothing here uses that client, so this command (an application) keeps the warning off its output.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")
    from qiboconnection.server.app import create_app
    from qiboconnection.server.connections import protocol_with_head_deadline

    config = ServerConfig(
        db_path=db,
        users=tuple(users),
        workers=args.workers,
        job_time_limit=args.job_time_limit,
        job_memory_limit=args.job_memory_limit * 2**20,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        fault_kinds=fault_kinds,
        fault_max_latency=args.fault_max_latency,
        link_latency=args.latency,
    )
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        # Listening now lets clients that read the printed URL connect before uvicorn is up.
        sock.listen(2048)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    try:
        app = create_app(config)
    except (sqlite3.Error, OSError) as exc:
        sock.close()
        print(f"error: cannot open the database {db}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    # Workers start now, so that the first job finds qibo imported; the URL is shown once they are warm.
    app.start()
    if not app.wait_ready(60):
        print("warning: the job workers are not warm yet; the first jobs wait for them", file=sys.stderr)  # noqa: T201
    port = sock.getsockname()[1]
    # A server listening on every interface is still reached locally through the loopback address.
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(args.host, args.host)
    host = f"[{shown}]" if ":" in shown else shown
    url = f"http://{host}:{port}"
    out.write(f"QaaS server on {url} (database: {db}, workers: {args.workers})\n")
    if created is not None:
        out.write(
            "Created an admin user; its API key is shown only this once:\n"
            f"  username: {created.username}\n  api key:  {created.api_key}\n"
        )
    if config.fault_rate > 0:
        out.write(
            f"Fault injection on: {config.fault_rate:g} of API requests meet one of"
            f" {','.join(config.fault_kinds)} (seed {config.fault_seed})\n"
        )
    out.write(f"export QUANTUM_SERVICE_URL={url}\n")
    out.flush()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=args.log_level,
            lifespan="on",
            access_log=args.log_level == "debug",
            http=protocol_with_head_deadline(config.request_head_timeout),
        )
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; both Ctrl-C and SIGTERM
    # are the normal way to stop a server, so they end here with the database closed cleanly.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sock.close()
        app.close()
    out.write("QaaS server stopped\n")
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _configure_logging(level: str) -> None:
    logger = logging.getLogger("qiboconnection")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())


COMMANDS: list[Callable[[Subcommands], None]] = [*CLIENT_COMMANDS, _add_serve]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    from qiboconnection import __version__

    parser = OneLineErrorParser(
        prog="qiboconnection",
        description="Qilimanjaro's Quantum-as-a-Service: client tools and a local server.",
        epilog=EXIT_CODES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130

"""The client subcommands of ``qiboconnection``: login, devices, submit, jobs, job, result, cancel.

Each command prints a table for people or, with ``--json``, JSON for scripts on stdout; messages and
the progress line go to stderr. Exit codes are stable (see :data:`EXIT_CODES_EPILOG`). Only ``argparse``
is imported up front: the client (httpx) loads when a command runs, qibo only to read a QASM file or a
result, and matplotlib only to plot.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

if TYPE_CHECKING:
    from qiboconnection.api import API

__all__ = [
    "COMMANDS",
    "EXIT_AUTH",
    "EXIT_CODES_EPILOG",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_REMOTE",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "OneLineErrorParser",
]

logger = logging.getLogger("qiboconnection.cli")

EXIT_OK = 0
EXIT_REMOTE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_EPILOG = """\
exit codes:
  0    success
  1    the service or the job reported an error (including an unreachable service)
  2    usage error (bad arguments, unreadable or invalid QASM file)
  3    authentication error (credentials refused, no usable saved account)
  4    not found (no such job or device)
  5    timed out waiting for a job
  130  interrupted (Ctrl-C)"""


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line on stderr, with a pointer to ``--help``, and exit with code 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


if TYPE_CHECKING:
    # What ``add_subparsers`` returns on a OneLineErrorParser: its subparsers are of the same class.
    Subcommands: TypeAlias = argparse._SubParsersAction[OneLineErrorParser]


class CommandError(Exception):
    """A failure the command reports on one line, with its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# -- output ----------------------------------------------------------------------------------------------


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _note(text: str) -> None:
    sys.stderr.write(text + "\n")


def _json(value: Any) -> None:
    _out(json.dumps(value, indent=2, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= 48 else text[:45] + "..."


def _table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(row[n]) for row in cells]) for n, column in enumerate(columns)]
    lines = ["  ".join(column.upper().ljust(widths[n]) for n, column in enumerate(columns)).rstrip()]
    lines.extend("  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row)).rstrip() for row in cells)
    return "\n".join(lines)


# -- errors ----------------------------------------------------------------------------------------------


def _code_for(error: BaseException) -> int:
    from qiboconnection.accounts import AccountError, AccountExistsError
    from qiboconnection.errors import (
        AuthenticationError,
        JobTimeoutError,
        NotFoundError,
        PermissionDeniedError,
    )

    if isinstance(error, AccountExistsError):
        return EXIT_USAGE
    if isinstance(error, AuthenticationError | PermissionDeniedError | AccountError):
        return EXIT_AUTH
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(error, JobTimeoutError):
        return EXIT_TIMEOUT
    return EXIT_REMOTE


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``command``, turning every expected failure into one line on stderr and its exit code."""

    def run(args: argparse.Namespace) -> int:
        from qiboconnection.errors import QiboconnectionError

        try:
            return command(args)
        except CommandError as error:
            _note(f"error: {error}")
            return error.code
        except QiboconnectionError as error:
            _note(f"error: {error}")
            return _code_for(error)
        except (ValueError, TypeError) as error:
            _note(f"error: {error}")
            return EXIT_USAGE
        except ImportError as error:
            _note(f"error: {error}")
            return EXIT_REMOTE
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep the interpreter's final flush
            # from failing on the closed pipe.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
        except OSError as error:
            _note(f"error: {error}")
            return EXIT_REMOTE
        except Exception as error:
            logger.debug("Unexpected failure", exc_info=True)
            _note(f"error: unexpected {type(error).__name__}: {error}")
            return EXIT_REMOTE

    return run


# -- sessions --------------------------------------------------------------------------------------------


def _session(args: argparse.Namespace) -> API:
    from qiboconnection.api import API

    api = API.login(account=args.account)
    api.show_progress = not args.no_progress
    return api


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, not {value}")
    return value


def _record_id(what: str) -> Callable[[str], int]:
    """An argparse type for the id of a ``what`` (a job, a device): a whole number, not negative."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"a {what} id is a whole number, not {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"a {what} id is not negative: {value}")
        return value

    return parse


_job_id = _record_id("job")
_device_id = _record_id("device")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text}")
    return value


def _common(parser: argparse.ArgumentParser, *, json_flag: bool = True, progress: bool = False) -> None:
    parser.add_argument(
        "--account",
        metavar="NAME",
        default=None,
        help="saved account to use (default: QIBOCONNECTION_USERNAME/QIBOCONNECTION_API_KEY, "
        "else the account 'default')",
    )
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress line while waiting")
        parser.add_argument(
            "--timeout", type=_seconds, default=3600.0, help="seconds to wait at most (default: %(default)g)"
        )
    else:
        parser.set_defaults(no_progress=True)


def _add(subparsers: Subcommands, name: str, help_text: str, description: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=EXIT_CODES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


# -- login -----------------------------------------------------------------------------------------------


def _add_login(subparsers: Subcommands) -> None:
    parser = _add(
        subparsers,
        "login",
        "save an account (checks the credentials first)",
        "Save a username and API key as an account in a private file (mode 0600) in your config "
        "directory. The API key is read from stdin with --api-key-stdin, else from "
        "QIBOCONNECTION_API_KEY, else asked for without echo; it is never a command-line argument.",
    )
    parser.add_argument(
        "--username", "-u", default=None, help="QaaS user name (default: QIBOCONNECTION_USERNAME)"
    )
    parser.add_argument("--api-key-stdin", action="store_true", help="read the API key from standard input")
    parser.add_argument(
        "--url", default=None, help="service URL to save (default: QUANTUM_SERVICE_URL if set)"
    )
    parser.add_argument("--name", default="default", help="account name (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an account saved under this name")
    parser.add_argument("--no-verify", action="store_true", help="save without logging in first")
    parser.set_defaults(run=_guarded(_login))


def _read_api_key(args: argparse.Namespace) -> str:
    if args.api_key_stdin:
        key = sys.stdin.readline().strip()
        if not key:
            raise CommandError("--api-key-stdin: standard input held no API key", EXIT_USAGE)
        return key
    key = os.environ.get("QIBOCONNECTION_API_KEY", "").strip()
    if key:
        return key
    if not sys.stdin.isatty():
        raise CommandError(
            "no API key: pass --api-key-stdin (and pipe the key), or set QIBOCONNECTION_API_KEY", EXIT_USAGE
        )
    import getpass

    key = getpass.getpass("API key: ").strip()
    if not key:
        raise CommandError("no API key given", EXIT_USAGE)
    return key


def _login(args: argparse.Namespace) -> int:
    import dataclasses

    from qiboconnection.accounts import accounts_path, list_accounts, save_account
    from qiboconnection.config import Settings

    username = args.username or os.environ.get("QIBOCONNECTION_USERNAME")
    if not username:
        raise CommandError("give --username (or set QIBOCONNECTION_USERNAME)", EXIT_USAGE)
    if not args.overwrite and any(account["name"] == args.name for account in list_accounts()):
        raise CommandError(
            f"an account named {args.name!r} is already saved; pass --overwrite to replace it", EXIT_USAGE
        )
    api_key = _read_api_key(args)
    url = args.url or os.environ.get("QUANTUM_SERVICE_URL") or None
    if not args.no_verify:
        from qiboconnection.api import API
        from qiboconnection.typings.connection import ConnectionConfiguration

        settings = Settings.from_env()
        if url:
            settings = dataclasses.replace(settings, base_url=url)
        with API(ConnectionConfiguration(username, api_key), settings=settings):
            pass
    saved = save_account(username, api_key, url=url, name=args.name, overwrite=args.overwrite)
    where = f" at {saved.url}" if saved.url else ""
    _note(f"Saved account {saved.name!r} for {saved.username}{where} in {accounts_path()}")
    return EXIT_OK


# -- accounts --------------------------------------------------------------------------------------------


def _add_accounts(subparsers: Subcommands) -> None:
    parser = _add(
        subparsers,
        "accounts",
        "list saved accounts",
        "List the saved accounts (name, username, URL; never the API key).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    parser.set_defaults(run=_guarded(_accounts))


def _accounts(args: argparse.Namespace) -> int:
    from qiboconnection.accounts import list_accounts

    accounts = list_accounts()
    if args.json:
        _json(accounts)
    else:
        _out(_table(accounts, ["name", "username", "url"]))
    return EXIT_OK


def _add_logout(subparsers: Subcommands) -> None:
    parser = _add(subparsers, "logout", "forget a saved account", "Delete a saved account and its API key.")
    parser.add_argument("--name", default="default", help="account name (default: %(default)s)")
    parser.set_defaults(run=_guarded(_logout))


def _logout(args: argparse.Namespace) -> int:
    from qiboconnection.accounts import AccountNotFoundError, delete_account

    try:
        delete_account(args.name)
    except AccountNotFoundError as error:
        raise CommandError(str(error), EXIT_NOT_FOUND) from None
    _note(f"Forgot account {args.name!r}")
    return EXIT_OK


# -- devices ---------------------------------------------------------------------------------------------


def _add_devices(subparsers: Subcommands) -> None:
    parser = _add(subparsers, "devices", "list the devices", "List the devices and their status.")
    _common(parser)
    parser.set_defaults(run=_guarded(_devices))


def _devices(args: argparse.Namespace) -> int:
    with _session(args) as api:
        devices = api.list_devices()
    if args.json:
        _json([device.to_dict(expand=True) for device in devices])
    else:
        rows = [device.to_dict() for device in devices]
        _out(_table(rows, ["id", "name", "status", "type", "number_pending_jobs"]))
    return EXIT_OK


# -- submit ----------------------------------------------------------------------------------------------


def _add_submit(subparsers: Subcommands) -> None:
    parser = _add(
        subparsers,
        "submit",
        "send an OpenQASM 2.0 file to run",
        "Send an OpenQASM 2.0 file as a circuit job (sent as written, after checking that qibo can "
        "read it). Prints the job id, or with --wait the result.",
    )
    parser.add_argument("file", metavar="FILE.qasm", help="OpenQASM 2.0 program")
    parser.add_argument("--device", "-d", type=_device_id, required=True, metavar="ID", help="device id")
    parser.add_argument(
        "--shots", "-n", type=_positive_int, required=True, metavar="N", help="number of shots"
    )
    parser.add_argument("--name", default="-", help="job name")
    parser.add_argument("--summary", default="-", help="job summary")
    parser.add_argument("--wait", action="store_true", help="wait for the job and print its result")
    _common(parser, progress=True)
    parser.set_defaults(run=_guarded(_submit))


def _read_qasm(path_text: str) -> str:
    from qiboconnection.operations import qasm_description

    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise CommandError(f"cannot read {path_text}: {reason}", EXIT_USAGE) from None
    # qibo's parser reports syntax errors on stderr and through qibo's logger: keep them for the message.
    import contextlib
    import io
    import logging

    captured = io.StringIO()
    qibo_logger = logging.getLogger("qibo.config")
    was_disabled = qibo_logger.disabled
    qibo_logger.disabled = True
    try:
        with contextlib.redirect_stderr(captured):
            qasm_description(text, source=path_text)
    except ValueError as error:
        lines = captured.getvalue().strip().splitlines()
        detail = f" ({lines[0].strip()})" if lines else ""
        raise CommandError(f"{error}{detail}", EXIT_USAGE) from None
    finally:
        qibo_logger.disabled = was_disabled
    return text


def _submit(args: argparse.Namespace) -> int:
    qasm = _read_qasm(args.file)
    with _session(args) as api:
        job = api.submit_qasm(qasm, args.device, nshots=args.shots, name=args.name, summary=args.summary)
        if not args.wait:
            if args.json:
                _json({"job_id": job.id, "device_id": args.device})
            else:
                _out(f"Submitted job {job.id} to device {args.device}")
            return EXIT_OK
        _note(f"Submitted job {job.id} to device {args.device}; waiting")
        data = job.wait(timeout=args.timeout, interval=1.0)
        return _show_result(data, args)


# -- jobs ------------------------------------------------------------------------------------------------


def _add_jobs(subparsers: Subcommands) -> None:
    parser = _add(subparsers, "jobs", "list your jobs", "List your jobs (newest last), without results.")
    _common(parser)
    parser.set_defaults(run=_guarded(_jobs))


def _jobs(args: argparse.Namespace) -> int:
    with _session(args) as api:
        listing = api.list_jobs()
    items = [item.to_dict() for item in listing]
    if args.json:
        _json(items)
    else:
        _out(_table(items, ["id", "status", "job_type", "device_id", "number_shots", "name", "created_at"]))
    return EXIT_OK


_HIDDEN = ("description", "result")
_JOB_FIELDS = (
    "job_id",
    "status",
    "job_type",
    "device_id",
    "number_shots",
    "queue_position",
    "name",
    "summary",
    "error",
    "created_at",
    "updated_at",
    "duration",
)


def _add_job(subparsers: Subcommands) -> None:
    parser = _add(subparsers, "job", "show one job", "Show a job's status and details (not its result).")
    parser.add_argument("job_id", type=_job_id, metavar="ID", help="job id")
    _common(parser)
    parser.set_defaults(run=_guarded(_job))


def _job(args: argparse.Namespace) -> int:
    with _session(args) as api:
        record = api.get_job(args.job_id).to_dict()
    shown = {key: value for key, value in record.items() if key not in _HIDDEN}
    shown["has_result"] = record.get("result") is not None
    if args.json:
        _json(shown)
        return EXIT_OK
    keys = [key for key in _JOB_FIELDS if key in shown] + sorted(set(shown) - set(_JOB_FIELDS))
    width = max(len(key) for key in keys)
    for key in keys:
        _out(f"{key.ljust(width)}  {_cell(shown[key])}")
    return EXIT_OK


# -- result ----------------------------------------------------------------------------------------------


def _add_result(subparsers: Subcommands) -> None:
    parser = _add(
        subparsers,
        "result",
        "show a job's result",
        "Show a finished job's result: a table of counts per circuit, JSON with --json, or a "
        "histogram PNG with --plot (needs `pip install qiboconnection[plot]`).",
    )
    parser.add_argument("job_id", type=_job_id, metavar="ID", help="job id")
    parser.add_argument(
        "--plot", metavar="OUT.png", default=None, help="also write a histogram of the counts"
    )
    parser.add_argument("--wait", action="store_true", help="wait for the job if it is not finished")
    _common(parser, progress=True)
    parser.set_defaults(run=_guarded(_result))


def _result(args: argparse.Namespace) -> int:
    from qiboconnection.polling import is_final

    with _session(args) as api:
        data = api.get_job(args.job_id)
        if not is_final(getattr(data, "status", None)):
            if not args.wait:
                raise CommandError(
                    f"job {args.job_id} is {data.status}; it has no result yet (use --wait)", EXIT_REMOTE
                )
            [data] = api.wait([args.job_id], timeout=args.timeout, interval=1.0)
    return _show_result(data, args)


def _show_result(data: Any, args: argparse.Namespace) -> int:
    from qiboconnection.operations import result_of_job

    result = result_of_job(data)
    circuit = getattr(data, "job_type", None) == "circuit" and isinstance(result, list)
    if getattr(args, "plot", None):
        if not circuit:
            raise CommandError(
                f"job {data.job_id} is not a circuit job; there are no counts to plot", EXIT_USAGE
            )
        from qiboconnection.plotting import save_counts_png

        try:
            save_counts_png(result if len(result) > 1 else result[0], args.plot)
        except OSError as error:
            raise CommandError(f"cannot write {args.plot}: {error.strerror or error}", EXIT_USAGE) from None
        _note(f"Histogram written to {args.plot}")
    if args.json:
        _json({"job_id": data.job_id, "status": data.status, "job_type": data.job_type, "result": result})
        return EXIT_OK
    if not circuit:
        _out(json.dumps(result, indent=2, default=str))
        return EXIT_OK
    for number, entry in enumerate(result):
        if len(result) > 1:
            _out(f"circuit {number}:")
        counts = entry.frequencies()
        total = sum(counts.values()) or 1
        rows = [
            {"outcome": key, "count": value, "probability": f"{value / total:.4f}"}
            for key, value in sorted(counts.items())
        ]
        _out(_table(rows, ["outcome", "count", "probability"]))
    return EXIT_OK


# -- cancel ----------------------------------------------------------------------------------------------


def _add_cancel(subparsers: Subcommands) -> None:
    parser = _add(subparsers, "cancel", "cancel a job", "Cancel a job that has not finished.")
    parser.add_argument("job_id", type=_job_id, metavar="ID", help="job id")
    _common(parser)
    parser.set_defaults(run=_guarded(_cancel))


def _cancel(args: argparse.Namespace) -> int:
    with _session(args) as api:
        api.cancel_job(args.job_id)
    if args.json:
        _json({"job_id": args.job_id, "status": "cancelled"})
    else:
        _out(f"Cancelled job {args.job_id}")
    return EXIT_OK


COMMANDS: list[Callable[[Subcommands], None]] = [
    _add_login,
    _add_accounts,
    _add_logout,
    _add_devices,
    _add_submit,
    _add_jobs,
    _add_job,
    _add_result,
    _add_cancel,
]

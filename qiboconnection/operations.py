"""What a session checks and sends: argument checks, and each operation as a :class:`Request`.

A :class:`Request` names the generated operation to call, the model of its answer, when it may be sent
again and how errors describe it; it sends nothing itself. The drivers
(``qiboconnection._async.calls`` and its synchronous twin) send it and read the answer.
"""

from __future__ import annotations

import enum
import math
import threading
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from qiboconnection.errors import (
    ConflictError,
    DeviceNotAvailableError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    QiboconnectionError,
)
from qiboconnection.models.devices import Device
from qiboconnection.models.jobs import JobData

if TYPE_CHECKING:
    from qaas_client import Client
    from qaas_client.models.device import Device as DeviceModel
    from qaas_client.models.device_page import DevicePage
    from qaas_client.models.device_status_update_status import DeviceStatusUpdateStatus
    from qaas_client.models.job import Job as JobModel
    from qaas_client.models.job_created import JobCreated
    from qaas_client.models.job_page import JobPage
    from qaas_client.models.job_submission_job_type import JobSubmissionJobType
    from qaas_client.types import Response

    from qiboconnection.config import Settings

_T = TypeVar("_T")

__all__ = [
    "DEVICE_INFO_SECONDS",
    "DeviceInfo",
    "Request",
    "Retry",
    "Submission",
    "cancel_job_request",
    "check_device",
    "check_ids",
    "check_int",
    "check_program",
    "check_timeout",
    "check_wait",
    "delete_job_request",
    "device_of",
    "device_refusal",
    "get_device_request",
    "get_job_request",
    "job_record_of",
    "list_devices_request",
    "list_jobs_request",
    "plan_submission",
    "qasm_description",
    "request",
    "result_of_job",
    "set_device_status_request",
    "status_request",
    "submit_request",
]


# -- argument checks -------------------------------------------------------------------------------------


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """``value`` when it is an int (not a bool) of at least ``minimum``; TypeError/ValueError otherwise."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def check_ids(values: Any, name: str) -> list[int]:
    """A list of ints from a sequence of ints."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of ints, not {type(values).__name__}")
    return [check_int(value, f"{name}[{n}]") for n, value in enumerate(values)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def check_timeout(timeout: Any) -> float:
    """Seconds to wait at most: a positive number, or None for no limit (returned as ``math.inf``)."""
    if timeout is None:
        return math.inf
    if not _is_number(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds (or None), not {timeout!r}")
    return float(timeout)


def check_wait(timeout: Any, interval: Any, *, allow_no_timeout: bool = False) -> tuple[float, float]:
    """Validate a wait: ``timeout`` > 0 (or None when allowed), ``interval`` >= 0 (0: poll at the floor)."""
    if timeout is None and allow_no_timeout:
        limit = math.inf
    elif not _is_number(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    else:
        limit = float(timeout)
    if not _is_number(interval) or interval < 0:
        raise ValueError(f"interval must be a positive number of seconds or 0, not {interval!r}")
    return limit, float(interval)


def job_ids_of(jobs: Any, name: str = "job_ids") -> list[int]:
    """Job ids from a list of ids and/or job handles (anything with an int ``id``)."""
    if isinstance(jobs, str | bytes) or not isinstance(jobs, Sequence):
        raise TypeError(f"{name} must be a list of job ids or jobs, not {type(jobs).__name__}")
    ids = []
    for number, job in enumerate(jobs):
        value = job if isinstance(job, int) else getattr(job, "job_id", job)
        ids.append(check_int(value, f"{name}[{number}]"))
    return ids


# -- requests --------------------------------------------------------------------------------------------


class Retry(enum.Enum):
    """When a call may be sent again (the drivers decide how, see :mod:`qiboconnection.retries`).

    ``IDEMPOTENT``: after a 5xx, a 429 or a transport error (GET, PUT, DELETE, and a job submission
    whose ``Idempotency-Key`` the service honours). ``CONNECT_ONLY``: only when the request provably
    never reached the service, or the service said it did not take it (429, 503).
    """

    IDEMPOTENT = "idempotent"
    CONNECT_ONLY = "connect-only"


@dataclass(frozen=True)
class Request(Generic[_T]):
    """One call of a generated operation: how to send it (``send_sync`` / ``send_async`` run its
    ``sync_detailed`` / ``asyncio_detailed`` on a client), the model of its answer, when it may be sent
    again and how errors describe it."""

    what: str
    mode: Retry
    model: type[_T]
    send_sync: Callable[[Client], Response[Any]]
    send_async: Callable[[Client], Awaitable[Response[Any]]]


def request(
    what: str, mode: Retry, model: type[_T], op: ModuleType, *args: Any, **kwargs: Any
) -> Request[_T]:
    """The :class:`Request` calling the generated operation module ``op`` with ``args`` and ``kwargs``."""

    def send_sync(client: Client) -> Response[Any]:
        answer: Response[Any] = op.sync_detailed(*args, client=client, **kwargs)
        return answer

    async def send_async(client: Client) -> Response[Any]:
        answer: Response[Any] = await op.asyncio_detailed(*args, client=client, **kwargs)
        return answer

    return Request(what, mode, model, send_sync, send_async)


def status_request() -> Request[str]:
    """Ask whether the service is up."""
    from qaas_client.api.health import get_status

    return request("check the service status", Retry.IDEMPOTENT, str, get_status)


def get_device_request(device_id: int) -> Request[DeviceModel]:
    """Fetch one device."""
    from qaas_client.api.devices import get_device
    from qaas_client.models.device import Device as DeviceModel

    check_int(device_id, "device_id")
    return request(f"get device {device_id}", Retry.IDEMPOTENT, DeviceModel, get_device, device_id)


def list_devices_request(page: int, per_page: int) -> Request[DevicePage]:
    """One page of the devices."""
    from qaas_client.api.devices import list_devices
    from qaas_client.models.device_page import DevicePage

    return request("list devices", Retry.IDEMPOTENT, DevicePage, list_devices, page=page, per_page=per_page)


def device_of(model: DeviceModel) -> Device:
    """The device of an answer."""
    return Device(model.to_dict())


#: How long, in seconds, a session reuses a device's record for the checks before a submission (exists,
#: online, shot limit) instead of fetching it again. The service checks every submission itself; when it
#: refuses one (404, 409, 422), the session drops the record and fetches the device again to say why.
DEVICE_INFO_SECONDS = 15.0


class DeviceInfo:
    """Device records that passed the submission checks, each reused for ``seconds`` after it was fetched.

    Only usable devices are kept: a device found offline or missing is asked about again next time.
    Safe to share between threads.
    """

    def __init__(self, seconds: float = DEVICE_INFO_SECONDS, clock: Any = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._kept: dict[int, tuple[float, Device]] = {}
        self._lock = threading.Lock()

    def get(self, device_id: int) -> Device | None:
        """The kept record of a device, or None when there is none or it is older than ``seconds``."""
        with self._lock:
            entry = self._kept.get(device_id)
            if entry is None:
                return None
            if self._clock() - entry[0] > self.seconds:
                del self._kept[device_id]
                return None
            return entry[1]

    def keep(self, device: Device) -> None:
        """Remember a device that passed the checks (now)."""
        if isinstance(device.id, int):
            with self._lock:
                self._kept[device.id] = (self._clock(), device)

    def forget(self, device_id: int | None = None) -> None:
        """Drop one device's record (all of them when ``device_id`` is None)."""
        with self._lock:
            if device_id is None:
                self._kept.clear()
            else:
                self._kept.pop(device_id, None)


def device_refusal(error: BaseException) -> bool:
    """Whether a refused submission may be the device's doing (missing 404, not online 409, shot limit 422)."""
    return isinstance(error, NotFoundError | ConflictError | InvalidRequestError)


def set_device_status_request(device_id: int, status: str) -> Request[DeviceModel]:
    """Put a device online or into maintenance (admin)."""
    from qaas_client.api.devices import update_device_status
    from qaas_client.models.device import Device as DeviceModel
    from qaas_client.models.device_status_update import DeviceStatusUpdate

    check_int(device_id, "device_id")
    if status not in ("online", "maintenance"):
        raise ValueError(f"status must be 'online' or 'maintenance', not {status!r}")
    return request(
        f"set device {device_id} {status}",
        Retry.IDEMPOTENT,
        DeviceModel,
        update_device_status,
        device_id,
        body=DeviceStatusUpdate(status=cast("DeviceStatusUpdateStatus", status)),
    )


def get_job_request(job_id: int) -> Request[JobModel]:
    """Fetch one job record."""
    from qaas_client.api.jobs import get_job
    from qaas_client.models.job import Job as JobModel

    check_int(job_id, "job_id")
    return request(f"get job {job_id}", Retry.IDEMPOTENT, JobModel, get_job, job_id)


def list_jobs_request(page: int, per_page: int, favourites: bool = False) -> Request[JobPage]:
    """One page of the user's job summaries, newest first."""
    from qaas_client.api.jobs import list_jobs
    from qaas_client.models.job_page import JobPage

    return request(
        "list jobs",
        Retry.IDEMPOTENT,
        JobPage,
        list_jobs,
        favourites=favourites,
        page=check_int(page, "page", minimum=1),
        per_page=per_page,
    )


def job_record_of(model: JobModel, job_id: int) -> dict[str, Any]:
    """The record of a fetched job; QiboconnectionError when the service sent another job's."""
    if model.job_id != job_id:
        raise QiboconnectionError(f"The service answered job {job_id} with the record of job {model.job_id}")
    return model.to_dict()


def cancel_job_request(job_id: int) -> Request[None]:
    """Cancel a job."""
    from qaas_client.api.jobs import cancel_job
    from qaas_client.models.job_cancel import JobCancel

    check_int(job_id, "job_id")
    return request(
        f"cancel job {job_id}",
        Retry.IDEMPOTENT,
        type(None),
        cancel_job,
        job_id,
        body=JobCancel(job_id=job_id),
    )


def delete_job_request(job_id: int) -> Request[None]:
    """Delete a job (admin)."""
    from qaas_client.api.jobs import delete_job

    check_int(job_id, "job_id")
    return request(f"delete job {job_id}", Retry.IDEMPOTENT, type(None), delete_job, job_id)


def result_of_job(job: JobData) -> Any:
    """A final job's decoded result; JobFailedError when it failed or was cancelled."""
    status = str(getattr(job, "status", "")).lower()
    if job.failed:
        raise JobFailedError(job.job_id, job.error)
    if status in {"cancelled", "canceled"}:
        raise JobFailedError(job.job_id, "the job was cancelled")
    return job.result


# -- submission ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """A checked, encoded program ready to send to each of ``device_ids``."""

    job_type: str
    description: str
    nshots: int
    device_ids: list[int]
    single: bool
    name: str = "-"
    summary: str = "-"


def plan_submission(
    *,
    circuit: Any = None,
    qprogram: str | None = None,
    anneal_program_args: dict[str, Any] | None = None,
    vqa: Any = None,
    nshots: int,
    device_ids: list[int] | None,
    device_id: int | None,
    name: str,
    summary: str,
    selected_ids: Sequence[int] = (),
    encoded: tuple[str, str] | None = None,
    warn_stacklevel: int = 3,
) -> Submission:
    """Check the arguments of ``execute`` and encode the program (or take ``encoded`` = (type, description)).

    Raises:
        ValueError: no program or several, no device, both device_id and device_ids, bad nshots, a
            circuit qibo cannot write as OpenQASM or read back.
        TypeError: arguments of the wrong type.
    """
    if device_id is not None and device_ids is not None:
        raise ValueError("Give device_id or device_ids, not both (device_ids is deprecated; use device_id)")
    if device_ids is not None:
        warnings.warn(
            "The device_ids argument is deprecated; use device_id instead.",
            DeprecationWarning,
            stacklevel=warn_stacklevel + 1,
        )
    if not isinstance(nshots, int) or isinstance(nshots, bool) or nshots <= 0:
        raise ValueError(f"nshots must be a positive int, not {nshots!r}")
    if not isinstance(name, str) or not isinstance(summary, str):
        raise TypeError("name and summary must be strings")
    if encoded is None:
        from qiboconnection.programs import encode_program

        job_type, description = encode_program(
            circuit=circuit, qprogram=qprogram, anneal_program_args=anneal_program_args, vqa=vqa
        )
    else:
        job_type, description = encoded
    if device_id is not None:
        targets = [check_int(device_id, "device_id")]
    elif device_ids is not None:
        targets = check_ids(device_ids, "device_ids")
    else:
        targets = list(selected_ids)
    if not targets:
        raise ValueError("No device selected: pass device_id=... (see list_devices())")
    return Submission(
        job_type=job_type,
        description=description,
        nshots=nshots,
        device_ids=targets,
        single=device_id is not None,
        name=name,
        summary=summary,
    )


def check_device(device: Device, nshots: int) -> None:
    """Refuse a device that is not online or whose shot limit is below ``nshots``."""
    if isinstance(device.status, str) and not device.is_online:
        raise DeviceNotAvailableError(device.id, device.name, device.status)
    max_shots = device.max_shots
    if max_shots is not None and nshots > max_shots:
        raise ValueError(f"nshots={nshots} is over device {device.id}'s limit of {max_shots} shots")


def check_program(device: Device, submission: Submission) -> None:
    """Refuse a program the device cannot run: a circuit without measurement on a quantum device."""
    from qiboconnection.programs import device_refusal_of

    reason = device_refusal_of(device, submission.job_type, submission.description)
    if reason is not None:
        raise ValueError(reason)


def submit_request(
    submission: Submission, device_id: int, *, user_id: int | None, idempotency_key: bool, resend: bool = True
) -> Request[JobCreated]:
    """Send ``submission`` to one device.

    With ``idempotency_key`` the request carries a fresh key; with ``resend`` as well, a submission
    whose answer was lost (5xx, a dropped connection) is sent again with that key. Without ``resend``
    it is sent again only when it provably never reached the service, or the service said it did not
    take it (429, 503).
    """
    from qaas_client.api.jobs import submit_job
    from qaas_client.models.job_created import JobCreated
    from qaas_client.models.job_submission import JobSubmission

    body = JobSubmission(
        user_id=user_id,
        device_id=device_id,
        number_shots=submission.nshots,
        job_type=cast("JobSubmissionJobType", submission.job_type),
        description=submission.description,
        name=submission.name,
        summary=submission.summary,
    )
    mode = Retry.CONNECT_ONLY
    kwargs: dict[str, Any] = {"body": body}
    if idempotency_key:
        kwargs["idempotency_key"] = str(uuid.uuid4())
        if resend:
            mode = Retry.IDEMPOTENT
    what = f"submit a {submission.job_type} job to device {device_id}"
    return request(what, mode, JobCreated, submit_job, **kwargs)


def resend_submissions(settings: Settings, service_honours_keys: bool) -> bool:
    """Whether a submission whose answer was lost may be sent again with its Idempotency-Key."""
    if not settings.send_idempotency_key:
        return False
    return service_honours_keys if settings.resend_submissions is None else settings.resend_submissions


def qasm_description(qasm: str, source: str = "the QASM program") -> tuple[str, str]:
    """``(job_type, description)`` for an OpenQASM 2.0 text sent as given, after checking qibo can parse it.

    Raises:
        ValueError: the text is not OpenQASM qibo can read (the message names ``source`` and the problem).
    """
    from qiboconnection.serialization import encode_envelope

    if not isinstance(qasm, str):
        raise TypeError(f"{source} must be a string, not {type(qasm).__name__}")
    if not qasm.strip():
        raise ValueError(f"{source} is empty")
    from qibo.models.circuit import Circuit

    try:
        circuit = Circuit.from_qasm(qasm)
    except Exception as error:
        reason = str(error).strip() or type(error).__name__
        raise ValueError(f"{source} is not valid OpenQASM 2.0: {reason}") from None
    if not circuit.queue:
        raise ValueError(f"{source} has no gates to run")
    return "circuit", encode_envelope([qasm])

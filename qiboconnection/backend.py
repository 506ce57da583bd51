"""A qibo backend that runs circuits on the Quantum-as-a-Service.

``qibo.set_backend("qiboconnection", platform=DEVICE)`` (``DEVICE`` a device id or name) makes
``circuit(nshots=...)`` and ``circuit.execute(...)`` send the circuit to that device, wait for it, and
return qibo's own result objects (see :mod:`qiboconnection.qibo_results`). The environment does the
same for a script left unchanged: ``QIBO_BACKEND=qiboconnection QIBO_PLATFORM=1 python script.py``.
``qibo.list_available_backends("qiboconnection")`` tells which devices take jobs.

Credentials come from ``username=``/``api_key=``, or ``account=``, else the environment and the saved
``default`` account, as :meth:`API.login <qiboconnection.api.API.login>` finds them.

Everything other than running circuits (gate matrices, Hamiltonians, expectation values of states)
is computed locally, as qibo's numpy backend does. The backend declares no qubits, native gates or
connectivity, so qibo sends circuits as written, without transpiling them first.

This module imports qibo; ``import qiboconnection`` does not import it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qibo.backends.numpy import NumpyBackend
from qibo.models.circuit import Circuit

from qiboconnection.errors import QiboconnectionError

if TYPE_CHECKING:
    from qiboconnection.api import API
    from qiboconnection.models.devices import Device

__all__ = ["MetaBackend", "QiboconnectionBackend"]

logger = logging.getLogger("qiboconnection.backend")

#: The ``name`` of the backend, as qibo shows it (``repr(backend)`` adds the device).
BACKEND_NAME = "qiboconnection"
#: Name given to the jobs the backend submits (job listings show it).
JOB_NAME = "qibo"


class QiboconnectionBackend(NumpyBackend):  # type: ignore[misc]
    """qibo's numpy backend, except that circuits run on one device of the service.

    Logs in when created, so that bad credentials or an unknown device fail at ``set_backend``; the
    session is closed by :meth:`close` (the next execution logs in again with the same credentials),
    or when the backend is garbage collected.

    Pickling keeps the device, the saved account name (if one was given) and the user's id, never the
    API key nor the session. An unpickled backend logs in on first use with the saved account it was
    given, else with the environment or the saved ``default`` account, and refuses to run if that is
    another user.

    Args:
        device: device id, a string of digits, or device name.
        username, api_key: credentials (both or neither).
        account: a saved account's name, instead of ``username``/``api_key``.
        timeout: longest wait, in seconds, for one execution's job (None: no limit).
    """

    def __init__(
        self,
        device: int | str,
        *,
        username: str | None = None,
        api_key: str | None = None,
        account: str | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__()
        _check_timeout(timeout)
        self.name = BACKEND_NAME
        self.timeout = timeout
        self._credentials = (username, api_key, account)
        self._lock = threading.Lock()
        self._api: API | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        api = _login(username, api_key, account)
        try:
            found = resolve_device(api, device)
        except BaseException:
            api.close()
            raise
        self.device_id: int = found.id
        self.platform = found.name if found.name is not None else str(found.id)
        self._user_id: int | None = api.user_id
        self._keep(api)
        if not found.is_online:
            logger.warning(
                "Device %s (%s) is %s: jobs sent now are refused", found.id, found.name, found.status
            )
        self.versions[BACKEND_NAME] = _package_version()

    # -- session ----------------------------------------------------------------------------------------

    @property
    def api(self) -> API:
        """The logged-in session (logged in now if this backend was unpickled)."""
        with self._lock:
            if self._api is None:
                api = _login(*self._credentials)
                if self._user_id is not None and api.user_id != self._user_id:
                    api.close()
                    raise QiboconnectionError(
                        f"The credentials found belong to user {api.user_id}, not to user {self._user_id} "
                        "who set up this backend: set QIBOCONNECTION_USERNAME and QIBOCONNECTION_API_KEY "
                        "(or the saved account) to that user's"
                    )
                self._keep(api)
            assert self._api is not None
            return self._api

    def _keep(self, api: API) -> None:
        self._api = api
        self._finalizer = weakref.finalize(self, api.close)

    def close(self) -> None:
        """Close the session (the next execution logs in again)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._api, self._finalizer = None, None

    def __getstate__(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "platform": self.platform,
            "account": self._credentials[2],
            "user_id": self._user_id,
            "timeout": self.timeout,
        }

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _unpickle, (type(self), self.__getstate__())

    @classmethod
    def restored(cls, state: dict[str, Any]) -> QiboconnectionBackend:
        """A backend rebuilt from :meth:`__getstate__`: not logged in until first used."""
        backend = cls.__new__(cls)
        NumpyBackend.__init__(backend)
        backend.name = BACKEND_NAME
        backend.device_id = state["device_id"]
        backend.platform = state["platform"]
        backend.timeout = state["timeout"]
        backend._credentials = (None, None, state["account"])
        backend._user_id = state["user_id"]
        backend._lock = threading.Lock()
        backend._api = None
        backend._finalizer = None
        backend.versions[BACKEND_NAME] = _package_version()
        return backend

    # -- qibo's backend interface --------------------------------------------------------------------

    @property
    def device_name(self) -> str:
        """The device's name (its id when it has none)."""
        return str(self.platform)

    def execute_circuit(self, circuit: Any, initial_state: Any = None, nshots: int = 1000) -> Any:
        """Run ``circuit`` on the device for ``nshots`` shots; qibo's result object for it.

        ``initial_state`` may be a qibo Circuit, which runs first (as in qibo); the service starts
        every circuit from ``|0...0>``, so a state vector is refused.

        Raises:
            ValueError: an initial state vector, a density-matrix or distributed circuit, a circuit the
                service cannot take (see :meth:`API.execute <qiboconnection.api.API.execute>`).
            JobFailedError: the job failed on the service.
            JobTimeoutError: the job was not done within the backend's ``timeout``.
        """
        circuit = self._prepared(circuit, initial_state)
        job = self.api.submit(circuit=circuit, nshots=nshots, device_id=self.device_id, name=JOB_NAME)
        assert not isinstance(job, list)
        logger.info("Circuit sent to device %s as job %s", self.device_id, job.id)
        [entry] = job.result(timeout=self.timeout)
        return self._result(entry, circuit)

    def execute_circuits(
        self,
        circuits: Sequence[Any],
        initial_states: Any = None,
        nshots: int | None = None,
        processes: int | None = None,
    ) -> list[Any]:
        """Run several circuits as one batch on the device; their qibo results, in order.

        ``processes`` is accepted for qibo's signature and unused: the service runs the circuits.

        Raises:
            QiboconnectionError: the error of the first circuit that failed (``JobFailedError``,
                ``JobTimeoutError``...), raised once every circuit has finished.
        """
        states = list(initial_states) if isinstance(initial_states, Sequence) else None
        if initial_states is not None and (states is None or len(states) != len(circuits)):
            raise ValueError("initial_states must be None or one initial state (a qibo Circuit) per circuit")
        prepared = [
            self._prepared(circuit, None if states is None else states[index])
            for index, circuit in enumerate(circuits)
        ]
        if not prepared:
            return []
        outcomes = self.api.run_batch(
            prepared, self.device_id, nshots=1000 if nshots is None else nshots, timeout=self.timeout
        )
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return [
            self._result(outcome.result, circuit) for outcome, circuit in zip(outcomes, prepared, strict=True)
        ]

    def _prepared(self, circuit: Any, initial_state: Any) -> Any:
        if not isinstance(circuit, Circuit):
            raise TypeError(f"circuit must be a qibo Circuit, not {type(circuit).__name__}")
        if initial_state is not None:
            if not isinstance(initial_state, Circuit):
                raise ValueError(
                    "the qiboconnection backend cannot take an initial state vector: the service starts "
                    "every circuit from |0...0>; add the gates that prepare the state at the start of the "
                    "circuit (or pass them as a Circuit)"
                )
            if initial_state.nqubits != circuit.nqubits:
                raise ValueError(
                    f"the initial-state circuit has {initial_state.nqubits} qubits, the circuit "
                    f"{circuit.nqubits}"
                )
            circuit = initial_state + circuit
        if circuit.density_matrix:
            raise ValueError(
                "the qiboconnection backend runs state-vector circuits only: build the circuit with "
                "density_matrix=False"
            )
        if circuit.accelerators:
            raise ValueError("the qiboconnection backend does not run distributed circuits (accelerators)")
        return circuit

    def _result(self, entry: Any, circuit: Any) -> Any:
        from qiboconnection.qibo_results import to_qibo

        return to_qibo(entry, circuit, backend=self)


class MetaBackend:
    """What qibo looks up in this package: ``load`` builds the backend, ``list_available`` the devices.

    ``MetaBackend(username=..., api_key=..., account=...)`` picks the credentials
    :meth:`list_available` uses (by default: the environment or the saved ``default`` account).
    """

    def __init__(
        self, *, username: str | None = None, api_key: str | None = None, account: str | None = None
    ) -> None:
        self._credentials = (username, api_key, account)

    @staticmethod
    def load(
        platform: int | str | None = None,
        *,
        username: str | None = None,
        api_key: str | None = None,
        account: str | None = None,
        timeout: float | None = None,
    ) -> QiboconnectionBackend:
        """The backend for device ``platform`` (id or name), as ``qibo.set_backend`` asks for it.

        Raises:
            ValueError: no device given, or no device has that id or name.
            AuthenticationError: the credentials were refused.
            AccountNotFoundError: no credentials were found.
        """
        if platform is None or (isinstance(platform, str) and not platform.strip()):
            raise ValueError(
                'Name the device to run on: qibo.set_backend("qiboconnection", platform=DEVICE_ID_OR_NAME) '
                "or QIBO_PLATFORM=DEVICE_ID_OR_NAME"
            )
        return QiboconnectionBackend(
            platform, username=username, api_key=api_key, account=account, timeout=timeout
        )

    def list_available(self) -> dict[str, bool]:
        """Every device the user sees, by name, and whether it takes jobs now (online).

        Empty when no credentials are found or the service cannot be reached (logged, never raised),
        so that ``qibo.list_available_backends`` always answers.
        """
        try:
            api = _login(*self._credentials)
        except QiboconnectionError as error:
            logger.info("No qiboconnection devices listed: %s", error)
            return {}
        try:
            devices = api.list_devices()
        except QiboconnectionError as error:
            logger.warning("No qiboconnection devices listed: %s", error)
            return {}
        finally:
            api.close()
        names = [device.name for device in devices]
        return {
            (
                device.name if device.name and names.count(device.name) == 1 else str(device.id)
            ): device.is_online
            for device in devices
        }


def resolve_device(api: API, device: int | str) -> Device:
    """The device with this id (an int or a string of digits) or, else, this name.

    A name is matched exactly, then ignoring case.

    Raises:
        ValueError: no device has that id or name, or several have that name.
        TypeError: ``device`` is neither an int nor a string.
    """
    if isinstance(device, bool) or not isinstance(device, int | str):
        raise TypeError(f"platform must be a device id or name, not {type(device).__name__}")
    devices = list(api.list_devices())
    text = str(device).strip()
    if isinstance(device, int) or text.isdigit():
        wanted = int(text)
        by_id = [found for found in devices if found.id == wanted]
        if by_id:
            return by_id[0]
    for matches in (
        [found for found in devices if found.name == text],
        [
            found
            for found in devices
            if isinstance(found.name, str) and found.name.casefold() == text.casefold()
        ],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValueError(
                f"Several devices are named {text!r} (ids {', '.join(str(found.id) for found in matches)}): "
                "give the id"
            )
    known = ", ".join(f"{found.id} ({found.name})" for found in devices) or "none"
    raise ValueError(f"No device has id or name {text!r}; the devices are: {known}")


def _login(username: str | None, api_key: str | None, account: str | None) -> API:
    from qiboconnection.api import API

    return API.login(username, api_key, account=account)


def _check_timeout(timeout: float | None) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")


def _package_version() -> str:
    from qiboconnection import __version__

    return __version__


def _unpickle(cls: type[QiboconnectionBackend], state: dict[str, Any]) -> QiboconnectionBackend:
    return cls.restored(state)

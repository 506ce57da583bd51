"""Requests and answers for runcards and calibrations, shared by ``API`` and ``AsyncAPI``.

Both kinds have the same operations (create, get by id or by name, list, update, delete) under their own
paths; a :class:`Kind` names the generated modules and the model class of one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.operations import Request, check_int

if TYPE_CHECKING:
    from qiboconnection.transport import Reply

__all__ = ["CALIBRATION", "RUNCARD", "Kind", "new_calibration", "new_runcard"]


@dataclass(frozen=True)
class Kind:
    """One kind of stored record: its label, model, generated package and names."""

    label: str
    model: type[Runcard] | type[Calibration]
    package: str
    input_model: str

    def _op(self, name: str) -> Any:
        import importlib

        return importlib.import_module(f"qaas_client.api.{self.package}.{name}")

    def _body(self, record: Runcard | Calibration) -> Any:
        import importlib

        module_name, class_name = self.input_model.rsplit(".", 1)
        model = getattr(importlib.import_module(f"qaas_client.models.{module_name}"), class_name)
        return model.from_dict(record.to_input())

    def _check(self, record: Any) -> None:
        if not isinstance(record, self.model):
            raise TypeError(f"{self.label} must be a {self.model.__name__}")

    # -- requests ----------------------------------------------------------------------------------

    def create(self, record: Runcard | Calibration) -> Request:
        """Store a new record."""
        from qiboconnection.transport import Retry

        self._check(record)
        return Request(
            self._op(f"create_{self.label}"),
            f"save {self.label} {record.name!r}",
            Retry.CONNECT_ONLY,
            {"body": self._body(record)},
        )

    def get(self, record_id: int | None, name: str | None) -> Request:
        """Fetch by id or by name (exactly one of them)."""
        from qiboconnection.transport import Retry

        if record_id is not None and name is not None:
            raise ValueError(f"Give either {self.label}_id or {self.label}_name, not both")
        if record_id is None and name is None:
            raise ValueError(f"Give one of {self.label}_id or {self.label}_name")
        if record_id is not None:
            check_int(record_id, f"{self.label}_id")
            return Request(
                self._op(f"get_{self.label}"),
                f"get {self.label} {record_id}",
                Retry.IDEMPOTENT,
                {f"{self.label}_id": record_id},
            )
        return Request(
            self._op(f"get_{self.label}_by_name"),
            f"get {self.label} {name!r}",
            Retry.IDEMPOTENT,
            {"name": name},
        )

    def listing(self) -> tuple[Any, str]:
        """The listing operation and its description, for page iteration."""
        return self._op(f"list_{self.label}s"), f"list {self.label}s"

    def update(self, record: Runcard | Calibration) -> Request:
        """Replace a stored record (it must have an id)."""
        from qiboconnection.transport import Retry

        self._check(record)
        if record.id is None:
            raise ValueError(f"The {self.label} has no id: save it first, or get it from the service")
        return Request(
            self._op(f"update_{self.label}"),
            f"update {self.label} {record.id}",
            Retry.IDEMPOTENT,
            {f"{self.label}_id": record.id, "body": self._body(record)},
        )

    def delete(self, record_id: int) -> Request:
        """Delete a record."""
        from qiboconnection.transport import Retry

        check_int(record_id, f"{self.label}_id")
        return Request(
            self._op(f"delete_{self.label}"),
            f"delete {self.label} {record_id}",
            Retry.IDEMPOTENT,
            {f"{self.label}_id": record_id},
        )

    # -- answers -----------------------------------------------------------------------------------

    def record_of(self, reply: Reply) -> Any:
        """The record in an answer, as the model."""
        return self.model.from_record(reply.data)

    def records_of(self, items: list[dict[str, Any]]) -> list[Any]:
        """Listing items as models."""
        return [self.model.from_record(item) for item in items]


RUNCARD = Kind("runcard", Runcard, "runcards", "runcard_input.RuncardInput")
CALIBRATION = Kind("calibration", Calibration, "calibrations", "calibration_input.CalibrationInput")


def new_runcard(  # noqa: PLR0917 - the arguments of API.save_runcard
    name: str, description: str, runcard_dict: dict, device_id: int, user_id: int, qililab_version: str
) -> Runcard:
    """A runcard to save, after checking the arguments."""
    if not isinstance(runcard_dict, dict):
        raise TypeError("runcard_dict must be a dict")
    return Runcard(
        name=name,
        description=description,
        runcard=runcard_dict,
        device_id=check_int(device_id, "device_id"),
        user_id=check_int(user_id, "user_id"),
        qililab_version=qililab_version,
    )


def new_calibration(  # noqa: PLR0917 - the arguments of API.save_calibration
    name: str,
    description: str,
    calibration_serialized: str,
    device_id: int,
    user_id: int,
    qililab_version: str,
) -> Calibration:
    """A calibration to save, after checking the arguments."""
    if not isinstance(calibration_serialized, str):
        raise TypeError("calibration_serialized must be a string")
    return Calibration(
        name=name,
        description=description,
        calibration=calibration_serialized,
        device_id=check_int(device_id, "device_id"),
        user_id=check_int(user_id, "user_id"),
        qililab_version=qililab_version,
    )

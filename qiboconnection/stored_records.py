"""Requests and answers for runcards and calibrations, shared by ``API`` and ``AsyncAPI``.

Both kinds have the same operations (create, get by id or by name, list, update, delete) under their own
paths; a :class:`Kind` names the generated modules and the model class of one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

from qaas_client.api.calibrations import (
    create_calibration,
    delete_calibration,
    get_calibration,
    get_calibration_by_name,
    list_calibrations,
    update_calibration,
)
from qaas_client.api.runcards import (
    create_runcard,
    delete_runcard,
    get_runcard,
    get_runcard_by_name,
    list_runcards,
    update_runcard,
)
from qaas_client.models.calibration import Calibration as CalibrationModel
from qaas_client.models.calibration_input import CalibrationInput
from qaas_client.models.calibration_page import CalibrationPage
from qaas_client.models.runcard import Runcard as RuncardModel
from qaas_client.models.runcard_input import RuncardInput
from qaas_client.models.runcard_page import RuncardPage

from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.operations import Request, Retry, check_int, request

__all__ = ["CALIBRATION", "RUNCARD", "Kind", "new_calibration", "new_runcard"]

_Record = TypeVar("_Record", Runcard, Calibration)
_Model = TypeVar("_Model", RuncardModel, CalibrationModel)
_Page = TypeVar("_Page", RuncardPage, CalibrationPage)


@dataclass(frozen=True)
class Kind(Generic[_Record, _Model, _Page]):
    """One kind of stored record: its label, our model, the generated models and operations."""

    label: str
    record: type[_Record]
    model: type[_Model]
    page: type[_Page]
    input_model: type[RuncardInput] | type[CalibrationInput]
    create_op: ModuleType
    get_op: ModuleType
    get_by_name_op: ModuleType
    list_op: ModuleType
    update_op: ModuleType
    delete_op: ModuleType

    def _body(self, record: _Record) -> RuncardInput | CalibrationInput:
        return self.input_model.from_dict(record.to_input())

    def _check(self, record: object) -> _Record:
        if not isinstance(record, self.record):
            raise TypeError(f"{self.label} must be a {self.record.__name__}, not {type(record).__name__}")
        return record

    # -- requests ----------------------------------------------------------------------------------

    def create(self, record: _Record) -> Request[_Model]:
        """Store a new record."""
        body = self._body(self._check(record))
        what = f"save {self.label} {record.name!r}"
        return request(what, Retry.CONNECT_ONLY, self.model, self.create_op, body=body)

    def get(self, record_id: int | None, name: str | None) -> Request[_Model]:
        """Fetch by id or by name (exactly one of them)."""
        if record_id is not None and name is not None:
            raise ValueError(f"Give either {self.label}_id or {self.label}_name, not both")
        if record_id is None and name is None:
            raise ValueError(f"Give one of {self.label}_id or {self.label}_name")
        if record_id is not None:
            check_int(record_id, f"{self.label}_id")
            return request(
                f"get {self.label} {record_id}", Retry.IDEMPOTENT, self.model, self.get_op, record_id
            )
        if not isinstance(name, str):
            raise TypeError(f"{self.label}_name must be a string, not {type(name).__name__}")
        return request(
            f"get {self.label} {name!r}", Retry.IDEMPOTENT, self.model, self.get_by_name_op, name=name
        )

    def listing(self, page: int, per_page: int) -> Request[_Page]:
        """One page of the listing."""
        return request(
            f"list {self.label}s", Retry.IDEMPOTENT, self.page, self.list_op, page=page, per_page=per_page
        )

    def update(self, record: _Record) -> Request[_Model]:
        """Replace a stored record (it must have an id)."""
        self._check(record)
        if record.id is None:
            raise ValueError(f"The {self.label} has no id: save it first, or get it from the service")
        return request(
            f"update {self.label} {record.id}",
            Retry.IDEMPOTENT,
            self.model,
            self.update_op,
            record.id,
            body=self._body(record),
        )

    def delete(self, record_id: int) -> Request[None]:
        """Delete a record."""
        check_int(record_id, f"{self.label}_id")
        return request(
            f"delete {self.label} {record_id}", Retry.IDEMPOTENT, type(None), self.delete_op, record_id
        )

    # -- answers -----------------------------------------------------------------------------------

    def record_of(self, model: _Model | Any) -> _Record:
        """A record of the service (a generated model), as ours."""
        return self.record.from_record(model.to_dict())

    def records_of(self, items: list[Any]) -> list[_Record]:
        """Listing items (generated models) as ours."""
        return [self.record.from_record(item.to_dict()) for item in items]


RUNCARD: Kind[Runcard, RuncardModel, RuncardPage] = Kind(
    "runcard",
    Runcard,
    RuncardModel,
    RuncardPage,
    RuncardInput,
    create_runcard,
    get_runcard,
    get_runcard_by_name,
    list_runcards,
    update_runcard,
    delete_runcard,
)
CALIBRATION: Kind[Calibration, CalibrationModel, CalibrationPage] = Kind(
    "calibration",
    Calibration,
    CalibrationModel,
    CalibrationPage,
    CalibrationInput,
    create_calibration,
    get_calibration,
    get_calibration_by_name,
    list_calibrations,
    update_calibration,
    delete_calibration,
)


def new_runcard(  # noqa: PLR0917 - the arguments of API.save_runcard
    name: str,
    description: str,
    runcard_dict: dict[str, Any],
    device_id: int,
    user_id: int,
    qililab_version: str,
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

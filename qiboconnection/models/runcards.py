"""Runcards and calibrations stored on the service (admin members)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from qiboconnection.serialization import decode_runcard, decode_text, encode_runcard, encode_text

__all__ = ["Calibration", "Runcard"]


class _Record:
    """Fields common to runcards and calibrations; any other keyword becomes an attribute too."""

    _id_key: ClassVar[str]
    _payload_key: ClassVar[str]

    id: int | None
    name: str
    description: str
    device_id: int
    user_id: int
    qililab_version: str
    created_at: Any
    updated_at: Any

    def __init__(self, **fields: Any) -> None:
        self.id = None
        self.description = ""
        self.qililab_version = ""
        self.created_at = None
        self.updated_at = None
        self.__dict__.update(fields)

    def _input(self, encoded_payload: str) -> dict[str, Any]:
        missing = [key for key in ("name", "device_id", "user_id") if getattr(self, key, None) is None]
        if missing:
            raise ValueError(f"{type(self).__name__} needs {', '.join(missing)} to be stored")
        return {
            "name": self.name,
            "description": self.description if self.description is not None else "",
            self._payload_key: encoded_payload,
            "device_id": self.device_id,
            "user_id": self.user_id,
            "qililab_version": self.qililab_version if self.qililab_version is not None else "",
        }

    @classmethod
    def _fields_from(cls, record: Mapping[str, Any]) -> dict[str, Any]:
        fields = {key: value for key, value in record.items() if key not in {cls._id_key, cls._payload_key}}
        fields["id"] = record.get(cls._id_key, record.get("id"))
        return fields


class Runcard(_Record):
    """A device runcard: ``runcard`` holds the dict; on the wire it travels as URL-safe base64 of its JSON."""

    _id_key = "runcard_id"
    _payload_key = "runcard"

    runcard: dict[str, Any]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Runcard:
        """Build from the service's record (decoding the runcard)."""
        encoded = record.get("runcard")
        return cls(
            **cls._fields_from(record), runcard=decode_runcard(encoded) if encoded is not None else None
        )

    def to_input(self) -> dict[str, Any]:
        """The body the service expects to store this runcard."""
        if not isinstance(getattr(self, "runcard", None), dict):
            raise ValueError("Runcard.runcard must be a dict")
        return self._input(encode_runcard(self.runcard))

    def __repr__(self) -> str:
        return f"Runcard(id={self.id!r}, name={self.name!r}, description={self.description!r}, device_id={getattr(self, 'device_id', None)!r})"


class Calibration(_Record):
    """A device calibration: ``calibration`` holds the serialized string; on the wire, URL-safe base64 of it."""

    _id_key = "calibration_id"
    _payload_key = "calibration"

    calibration: str

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Calibration:
        """Build from the service's record (decoding the calibration)."""
        encoded = record.get("calibration")
        return cls(
            **cls._fields_from(record), calibration=decode_text(encoded) if encoded is not None else None
        )

    def to_input(self) -> dict[str, Any]:
        """The body the service expects to store this calibration."""
        if not isinstance(getattr(self, "calibration", None), str):
            raise ValueError("Calibration.calibration must be a string")
        return self._input(encode_text(self.calibration))

    def __repr__(self) -> str:
        return f"Calibration(id={self.id!r}, name={self.name!r}, description={self.description!r}, device_id={getattr(self, 'device_id', None)!r})"

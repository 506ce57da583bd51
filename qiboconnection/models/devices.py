"""Devices as the service describes them.

Older records name the core fields ``device_id``, ``device_name`` and ``device_type``; they are mapped to
``id``, ``name`` and ``type``. Fields the client does not know are kept and reachable as attributes or
through :meth:`Device.to_dict` with ``expand=True``. ``status`` is kept as sent (old records hold numbers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

__all__ = ["Device", "Devices"]

_LEGACY_KEYS = {"device_id": "id", "device_name": "name", "device_type": "type"}
_CORE_KEYS = ("id", "name", "status", "type", "number_pending_jobs")


class Device:
    """A quantum device or simulator."""

    __slots__ = ("_fields",)
    _fields: dict[str, Any]

    def __init__(self, record: Mapping[str, Any] | None = None, **fields: Any) -> None:
        merged = {**(record or {}), **fields}
        for legacy, current in _LEGACY_KEYS.items():
            if legacy in merged:
                value = merged.pop(legacy)
                merged.setdefault(current, value)
        object.__setattr__(self, "_fields", merged)

    @property
    def id(self) -> int:
        """Device identifier."""
        value = self._fields.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise AttributeError(f"This device record has no integer id (it holds {value!r})")

    @property
    def name(self) -> str | None:
        """Device name."""
        return self._text("name")

    @property
    def status(self) -> Any:
        """``online``, ``maintenance``, ``offline`` (or whatever an old record holds)."""
        return self._fields.get("status")

    @property
    def type(self) -> str | None:
        """``simulator_device``, ``quantum_device``, ..."""
        return self._text("type")

    @property
    def number_pending_jobs(self) -> int | None:
        """Jobs waiting on this device."""
        value = self._fields.get("number_pending_jobs")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def static_features(self) -> dict[str, Any] | None:
        """Fixed characteristics (``max_qubits``, ``max_shots``, ...)."""
        return self._table("static_features")

    @property
    def dynamic_features(self) -> dict[str, Any] | None:
        """Characteristics that change over time."""
        return self._table("dynamic_features")

    def _text(self, key: str) -> str | None:
        value = self._fields.get(key)
        return value if isinstance(value, str) else None

    def _table(self, key: str) -> dict[str, Any] | None:
        value = self._fields.get(key)
        return value if isinstance(value, dict) else None

    @property
    def is_online(self) -> bool:
        """Whether the device takes jobs."""
        return isinstance(self.status, str) and self.status.lower() == "online"

    @property
    def max_shots(self) -> int | None:
        """The largest shot count the device accepts, when it says so."""
        features = self.static_features
        value = features.get("max_shots") if isinstance(features, Mapping) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        raise AttributeError(f"Device has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Device objects are read-only")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {key for key in self._fields if key.isidentifier()})

    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        """The core fields (id, name, status, type, number_pending_jobs), or every field with ``expand``."""
        if expand:
            return dict(self._fields)
        return {key: self._fields.get(key) for key in _CORE_KEYS}

    def toJSON(self, expand: bool = False) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(expand=expand), indent=2, default=str)

    def __str__(self) -> str:
        fields = self._fields
        return (
            f"<Device: id={fields.get('id')}, name='{fields.get('name')}', "
            f"status='{fields.get('status')}', type='{fields.get('type')}'>"
        )

    __repr__ = __str__


class Devices(Sequence[Device]):
    """An ordered collection of devices, searchable by id."""

    def __init__(self, devices: Device | Sequence[Device] | None = None) -> None:
        if devices is None:
            self._devices: list[Device] = []
        elif isinstance(devices, Device):
            self._devices = [devices]
        else:
            self._devices = list(devices)

    @overload
    def __getitem__(self, index: int) -> Device: ...
    @overload
    def __getitem__(self, index: slice) -> Devices: ...
    def __getitem__(self, index: int | slice) -> Device | Devices:
        if isinstance(index, slice):
            return Devices(self._devices[index])
        return self._devices[index]

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices)

    def add(self, device: Device) -> None:
        """Append a device."""
        self._devices.append(device)

    def add_or_update(self, device: Device) -> None:
        """Replace the device with the same id, or append it."""
        for index, current in enumerate(self._devices):
            if current.id == device.id:
                self._devices[index] = device
                return
        self._devices.append(device)

    def select_device(self, device_id: int) -> Device:
        """The device with ``device_id``; ValueError when absent."""
        for device in self._devices:
            if device.id == device_id:
                return device
        raise ValueError(f"Device {device_id} not found")

    def to_dict(self, expand: bool = False) -> list[dict[str, Any]]:
        """Each device's :meth:`Device.to_dict`."""
        return [device.to_dict(expand=expand) for device in self._devices]

    def toJSON(self, expand: bool = False) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(expand=expand), indent=2, default=str)

    def __str__(self) -> str:
        return f"<Devices[{len(self._devices)}]:{self.toJSON()}>"

    __repr__ = __str__

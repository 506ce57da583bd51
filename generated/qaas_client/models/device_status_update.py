from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.device_status_update_status import (
    DeviceStatusUpdateStatus,
    check_device_status_update_status,
)

T = TypeVar("T", bound="DeviceStatusUpdate")


@_attrs_define
class DeviceStatusUpdate:
    status: DeviceStatusUpdateStatus

    def to_dict(self) -> dict[str, Any]:
        status: str = self.status

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = check_device_status_update_status(d.pop("status"))

        device_status_update = cls(
            status=status,
        )

        return device_status_update

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Calibration")


@_attrs_define
class Calibration:
    calibration_id: int
    name: str
    description: str
    calibration: str
    """ URL-safe base64 of the serialized calibration string. """
    device_id: int
    user_id: int
    qililab_version: str
    created_at: str
    updated_at: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        calibration_id = self.calibration_id

        name = self.name

        description = self.description

        calibration = self.calibration

        device_id = self.device_id

        user_id = self.user_id

        qililab_version = self.qililab_version

        created_at = self.created_at

        updated_at = self.updated_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "calibration_id": calibration_id,
                "name": name,
                "description": description,
                "calibration": calibration,
                "device_id": device_id,
                "user_id": user_id,
                "qililab_version": qililab_version,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calibration_id = d.pop("calibration_id")

        name = d.pop("name")

        description = d.pop("description")

        calibration = d.pop("calibration")

        device_id = d.pop("device_id")

        user_id = d.pop("user_id")

        qililab_version = d.pop("qililab_version")

        created_at = d.pop("created_at")

        updated_at = d.pop("updated_at")

        calibration = cls(
            calibration_id=calibration_id,
            name=name,
            description=description,
            calibration=calibration,
            device_id=device_id,
            user_id=user_id,
            qililab_version=qililab_version,
            created_at=created_at,
            updated_at=updated_at,
        )

        calibration.additional_properties = d
        return calibration

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

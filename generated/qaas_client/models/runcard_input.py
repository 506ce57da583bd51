from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="RuncardInput")


@_attrs_define
class RuncardInput:
    name: str
    runcard: str
    """ URL-safe base64 of the runcard dict's JSON. """
    device_id: int
    user_id: int
    description: str | Unset = ""
    qililab_version: str | Unset = ""
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        runcard = self.runcard

        device_id = self.device_id

        user_id = self.user_id

        description = self.description

        qililab_version = self.qililab_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "runcard": runcard,
                "device_id": device_id,
                "user_id": user_id,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if qililab_version is not UNSET:
            field_dict["qililab_version"] = qililab_version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        runcard = d.pop("runcard")

        device_id = d.pop("device_id")

        user_id = d.pop("user_id")

        description = d.pop("description", UNSET)

        qililab_version = d.pop("qililab_version", UNSET)

        runcard_input = cls(
            name=name,
            runcard=runcard,
            device_id=device_id,
            user_id=user_id,
            description=description,
            qililab_version=qililab_version,
        )

        runcard_input.additional_properties = d
        return runcard_input

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.device_dynamic_features_type_0 import DeviceDynamicFeaturesType0
    from ..models.device_static_features_type_0 import DeviceStaticFeaturesType0


T = TypeVar("T", bound="Device")


@_attrs_define
class Device:
    """A device. Older records carry `device_id`, `device_name` and `device_type` instead of
    `id`, `name` and `type`, and records may carry extra fields (`channel_id`,
    `characteristics`, `calibration_details`, `provider`, ...), which clients keep.

    """

    id: int | Unset = UNSET
    name: str | Unset = UNSET
    status: float | str | Unset = UNSET
    """ `online`, `maintenance` or `offline`; old records may hold other strings or a number.
     """
    type_: str | Unset = UNSET
    """ `simulator_device`, `quantum_device`, `quantum_analog_device` or `quantum_digital_device`. """
    number_pending_jobs: int | None | Unset = UNSET
    slurm_partition: None | str | Unset = UNSET
    static_features: DeviceStaticFeaturesType0 | None | Unset = UNSET
    dynamic_features: DeviceDynamicFeaturesType0 | None | Unset = UNSET
    device_id: int | Unset = UNSET
    """ Legacy name of `id`. """
    device_name: str | Unset = UNSET
    """ Legacy name of `name`. """
    device_type: str | Unset = UNSET
    """ Legacy name of `type`. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.device_dynamic_features_type_0 import DeviceDynamicFeaturesType0  # noqa: PLC0415
        from ..models.device_static_features_type_0 import DeviceStaticFeaturesType0  # noqa: PLC0415

        id = self.id

        name = self.name

        status: float | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        type_ = self.type_

        number_pending_jobs: int | None | Unset
        if isinstance(self.number_pending_jobs, Unset):
            number_pending_jobs = UNSET
        else:
            number_pending_jobs = self.number_pending_jobs

        slurm_partition: None | str | Unset
        if isinstance(self.slurm_partition, Unset):
            slurm_partition = UNSET
        else:
            slurm_partition = self.slurm_partition

        static_features: dict[str, Any] | None | Unset
        if isinstance(self.static_features, Unset):
            static_features = UNSET
        elif isinstance(self.static_features, DeviceStaticFeaturesType0):
            static_features = self.static_features.to_dict()
        else:
            static_features = self.static_features

        dynamic_features: dict[str, Any] | None | Unset
        if isinstance(self.dynamic_features, Unset):
            dynamic_features = UNSET
        elif isinstance(self.dynamic_features, DeviceDynamicFeaturesType0):
            dynamic_features = self.dynamic_features.to_dict()
        else:
            dynamic_features = self.dynamic_features

        device_id = self.device_id

        device_name = self.device_name

        device_type = self.device_type

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if name is not UNSET:
            field_dict["name"] = name
        if status is not UNSET:
            field_dict["status"] = status
        if type_ is not UNSET:
            field_dict["type"] = type_
        if number_pending_jobs is not UNSET:
            field_dict["number_pending_jobs"] = number_pending_jobs
        if slurm_partition is not UNSET:
            field_dict["slurm_partition"] = slurm_partition
        if static_features is not UNSET:
            field_dict["static_features"] = static_features
        if dynamic_features is not UNSET:
            field_dict["dynamic_features"] = dynamic_features
        if device_id is not UNSET:
            field_dict["device_id"] = device_id
        if device_name is not UNSET:
            field_dict["device_name"] = device_name
        if device_type is not UNSET:
            field_dict["device_type"] = device_type

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.device_dynamic_features_type_0 import DeviceDynamicFeaturesType0  # noqa: PLC0415
        from ..models.device_static_features_type_0 import DeviceStaticFeaturesType0  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        name = d.pop("name", UNSET)

        def _parse_status(data: object) -> float | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(float | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        type_ = d.pop("type", UNSET)

        def _parse_number_pending_jobs(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        number_pending_jobs = _parse_number_pending_jobs(d.pop("number_pending_jobs", UNSET))

        def _parse_slurm_partition(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        slurm_partition = _parse_slurm_partition(d.pop("slurm_partition", UNSET))

        def _parse_static_features(data: object) -> DeviceStaticFeaturesType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                static_features_type_0 = DeviceStaticFeaturesType0.from_dict(data)

                return static_features_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeviceStaticFeaturesType0 | None | Unset, data)

        static_features = _parse_static_features(d.pop("static_features", UNSET))

        def _parse_dynamic_features(data: object) -> DeviceDynamicFeaturesType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                dynamic_features_type_0 = DeviceDynamicFeaturesType0.from_dict(data)

                return dynamic_features_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeviceDynamicFeaturesType0 | None | Unset, data)

        dynamic_features = _parse_dynamic_features(d.pop("dynamic_features", UNSET))

        device_id = d.pop("device_id", UNSET)

        device_name = d.pop("device_name", UNSET)

        device_type = d.pop("device_type", UNSET)

        device = cls(
            id=id,
            name=name,
            status=status,
            type_=type_,
            number_pending_jobs=number_pending_jobs,
            slurm_partition=slurm_partition,
            static_features=static_features,
            dynamic_features=dynamic_features,
            device_id=device_id,
            device_name=device_name,
            device_type=device_type,
        )

        device.additional_properties = d
        return device

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.job_submission_job_type import (
    JobSubmissionJobType,
    check_job_submission_job_type,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="JobSubmission")


@_attrs_define
class JobSubmission:
    device_id: int
    number_shots: int
    job_type: JobSubmissionJobType
    description: str
    """ JSON string `{"data": base64(gzip(json(payload))), "encoding": "utf-8", "compression": "gzip"}`;
    for `vqa` it also carries `init_params` and `optimizer_params`.
     """
    user_id: int | None | Unset = UNSET
    """ The submitting user; when given, it must be the token's user (403 otherwise). """
    name: str | Unset = "-"
    summary: str | Unset = "-"
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        device_id = self.device_id

        number_shots = self.number_shots

        job_type: str = self.job_type

        description = self.description

        user_id: int | None | Unset
        if isinstance(self.user_id, Unset):
            user_id = UNSET
        else:
            user_id = self.user_id

        name = self.name

        summary = self.summary

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "device_id": device_id,
                "number_shots": number_shots,
                "job_type": job_type,
                "description": description,
            }
        )
        if user_id is not UNSET:
            field_dict["user_id"] = user_id
        if name is not UNSET:
            field_dict["name"] = name
        if summary is not UNSET:
            field_dict["summary"] = summary

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        device_id = d.pop("device_id")

        number_shots = d.pop("number_shots")

        job_type = check_job_submission_job_type(d.pop("job_type"))

        description = d.pop("description")

        def _parse_user_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        user_id = _parse_user_id(d.pop("user_id", UNSET))

        name = d.pop("name", UNSET)

        summary = d.pop("summary", UNSET)

        job_submission = cls(
            device_id=device_id,
            number_shots=number_shots,
            job_type=job_type,
            description=description,
            user_id=user_id,
            name=name,
            summary=summary,
        )

        job_submission.additional_properties = d
        return job_submission

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Job")


@_attrs_define
class Job:
    """A job. `status` is `not sent`, `pending`, `queued`, `running`, `completed`, `error` or
    `cancelled` (old records say `canceled`). `result` is null until the job completes, then a
    JSON string in the same envelope as `description`; older results for non-circuit jobs are
    plain URL-safe base64 of JSON. A failed job's reason is in `error`.

    """

    job_id: int
    user_id: int | None
    device_id: int
    status: str
    job_type: str
    description: str
    number_shots: int
    result: None | str
    queue_position: int | None | Unset = UNSET
    name: None | str | Unset = UNSET
    summary: None | str | Unset = UNSET
    error: None | str | Unset = UNSET
    """ Why the job ended in `error`. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        job_id = self.job_id

        user_id: int | None
        user_id = self.user_id

        device_id = self.device_id

        status = self.status

        job_type = self.job_type

        description = self.description

        number_shots = self.number_shots

        result: None | str
        result = self.result

        queue_position: int | None | Unset
        if isinstance(self.queue_position, Unset):
            queue_position = UNSET
        else:
            queue_position = self.queue_position

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        summary: None | str | Unset
        if isinstance(self.summary, Unset):
            summary = UNSET
        else:
            summary = self.summary

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "job_id": job_id,
                "user_id": user_id,
                "device_id": device_id,
                "status": status,
                "job_type": job_type,
                "description": description,
                "number_shots": number_shots,
                "result": result,
            }
        )
        if queue_position is not UNSET:
            field_dict["queue_position"] = queue_position
        if name is not UNSET:
            field_dict["name"] = name
        if summary is not UNSET:
            field_dict["summary"] = summary
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        job_id = d.pop("job_id")

        def _parse_user_id(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        user_id = _parse_user_id(d.pop("user_id"))

        device_id = d.pop("device_id")

        status = d.pop("status")

        job_type = d.pop("job_type")

        description = d.pop("description")

        number_shots = d.pop("number_shots")

        def _parse_result(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        result = _parse_result(d.pop("result"))

        def _parse_queue_position(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        queue_position = _parse_queue_position(d.pop("queue_position", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_summary(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        summary = _parse_summary(d.pop("summary", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        job = cls(
            job_id=job_id,
            user_id=user_id,
            device_id=device_id,
            status=status,
            job_type=job_type,
            description=description,
            number_shots=number_shots,
            result=result,
            queue_position=queue_position,
            name=name,
            summary=summary,
            error=error,
        )

        job.additional_properties = d
        return job

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

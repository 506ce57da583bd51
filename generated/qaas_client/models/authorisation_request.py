from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AuthorisationRequest")


@_attrs_define
class AuthorisationRequest:
    grant_type: str
    """ Always `urn:ietf:params:oauth:grant-type:jwt-bearer`. """
    assertion: str
    """ URL-safe base64 (padded or not) of the JSON assertion object (user_id, username, api_key,
    audience, iat); an assertion that does not decode to that object is refused with 401.
     """
    scope: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        grant_type = self.grant_type

        assertion = self.assertion

        scope = self.scope

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "grantType": grant_type,
                "assertion": assertion,
            }
        )
        if scope is not UNSET:
            field_dict["scope"] = scope

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        grant_type = d.pop("grantType")

        assertion = d.pop("assertion")

        scope = d.pop("scope", UNSET)

        authorisation_request = cls(
            grant_type=grant_type,
            assertion=assertion,
            scope=scope,
        )

        authorisation_request.additional_properties = d
        return authorisation_request

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

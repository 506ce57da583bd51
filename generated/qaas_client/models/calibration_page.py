from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.calibration import Calibration
    from ..models.page_links import PageLinks


T = TypeVar("T", bound="CalibrationPage")


@_attrs_define
class CalibrationPage:
    total: int
    per_page: int
    self_: str
    links: PageLinks
    """ Links to other pages; a link to a page that does not exist contains `page=None`. """
    items: list[Calibration]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.total

        per_page = self.per_page

        self_ = self.self_

        links = self.links.to_dict()

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "total": total,
                "per_page": per_page,
                "self": self_,
                "links": links,
                "items": items,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.calibration import Calibration  # noqa: PLC0415
        from ..models.page_links import PageLinks  # noqa: PLC0415

        d = dict(src_dict)
        total = d.pop("total")

        per_page = d.pop("per_page")

        self_ = d.pop("self")

        links = PageLinks.from_dict(d.pop("links"))

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = Calibration.from_dict(items_item_data)

            items.append(items_item)

        calibration_page = cls(
            total=total,
            per_page=per_page,
            self_=self_,
            links=links,
            items=items,
        )

        calibration_page.additional_properties = d
        return calibration_page

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

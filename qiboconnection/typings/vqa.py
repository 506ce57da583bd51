"""Variational quantum algorithm payload for :meth:`qiboconnection.api.API.execute`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["VQA"]


@dataclass
class VQA:
    """A VQA to run on the service: the algorithm (``vqa_dict``), initial parameters and optimizer options."""

    vqa_dict: dict[str, Any]
    init_params: list[Any]
    optimizer_params: dict[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.optimizer_params is None:
            self.optimizer_params = {}

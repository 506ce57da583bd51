"""Credentials for :class:`qiboconnection.api.API`."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ConnectionConfiguration"]


@dataclass(frozen=True)
class ConnectionConfiguration:
    """Who logs in: username and API key (the key never appears in ``repr``).

    Attributes:
        username: the QaaS user name.
        api_key: the user's API key.
        user_id: the user's id, if known beforehand (it is read from the access token anyway).
    """

    username: str
    api_key: str = field(repr=False)
    user_id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username:
            raise ValueError("username must be a non-empty string")
        if not isinstance(self.api_key, str) or not self.api_key:
            raise ValueError("api_key must be a non-empty string")

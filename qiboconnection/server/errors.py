"""Problem documents (RFC 7807) raised by handlers and turned into responses in one place."""

from __future__ import annotations

from http import HTTPStatus


class ApiProblem(Exception):
    """An error the client caused (or may retry), answered as ``application/problem+json``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    def to_dict(self) -> dict[str, object]:
        return {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.detail}


class BadRequest(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


class Unauthorized(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail)


class Forbidden(ApiProblem):
    def __init__(self, detail: str = "This operation needs an admin member.") -> None:
        super().__init__(403, detail)


class NotFound(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(404, detail)


class Conflict(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(409, detail)


class PayloadTooLarge(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class UnsupportedMediaType(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(415, detail)


class Unprocessable(ApiProblem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, detail)


class TooManyRequests(ApiProblem):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(429, detail, {"Retry-After": str(max(1, retry_after))})


def job_not_found(job_id: int) -> NotFound:
    """The one answer for a job that is missing or belongs to someone else."""
    return NotFound(f"Requested job with 'job_id': {job_id}, does not exist.")

"""Jobs: those launched in a session, full job records, and job listings."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from qiboconnection.errors import ResultDecodeError
from qiboconnection.results import decode_job_result
from qiboconnection.serialization import DEFAULT_MAX_BYTES, decode_envelope

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Job", "JobData", "JobListing", "JobListingItem", "decode_description"]

logger = logging.getLogger("qiboconnection.jobs")

_UNSET: Any = object()


@dataclass
class Job:
    """A job launched from this session."""

    id: int
    device_id: int
    job_type: str
    nshots: int
    name: str = "-"
    summary: str = "-"
    user_id: int | None = None

    @property
    def job_id(self) -> int:
        """The job's identifier."""
        return self.id


def decode_description(
    description: str | None,
    job_type: str | None,
    *,
    job_id: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """Decode a job description: qibo Circuits for circuit jobs, the VQA parts for vqa jobs, else the payload."""
    if description is None:
        return None
    payload = decode_envelope(description, max_bytes=max_bytes, job_id=job_id)
    if job_type == "circuit":
        from qibo.models.circuit import Circuit

        qasms = payload if isinstance(payload, list) else [payload]
        circuits = []
        for number, qasm in enumerate(qasms):
            try:
                circuits.append(Circuit.from_qasm(qasm))
            except Exception as error:
                raise ResultDecodeError(job_id, f"circuit {number} is not valid OpenQASM ({error})") from None
        return circuits
    if job_type == "vqa":
        import orjson

        outer = orjson.loads(description)
        return {
            "vqa_dict": payload,
            "init_params": outer.get("init_params"),
            "optimizer_params": outer.get("optimizer_params"),
        }
    return payload


class JobData:
    """A job as the service reports it: every field as an attribute, with ``result`` and ``description`` decoded.

    ``result`` is decoded on first access (None until the job is completed; circuit jobs give one
    :class:`~qiboconnection.results.QaaSCircuitResult` per circuit). ``description`` is decoded on first
    access too (a list of qibo Circuits for circuit jobs). A failed job has ``status == "error"`` and
    its reason in ``error``. The raw strings stay in ``raw_result`` and ``raw_description``.
    """

    job_id: int
    status: str
    job_type: str
    error: str | None

    def __init__(self, record: Mapping[str, Any], *, max_result_bytes: int = DEFAULT_MAX_BYTES) -> None:
        fields = dict(record)
        self._record = fields
        self._max_bytes = max_result_bytes
        self._result: Any = _UNSET
        self._description: Any = _UNSET
        self.raw_result: str | None = fields.get("result")
        self.raw_description: str | None = fields.get("description")
        self.error = fields.get("error")
        attributes = self.__dict__
        attributes.update(fields)
        # The decoded forms are properties; the raw strings are in raw_result and raw_description.
        attributes.pop("result", None)
        attributes.pop("description", None)
        if "job_id" not in fields and "id" in fields:
            self.job_id = fields["id"]

    @property
    def result(self) -> Any:
        """The decoded result; None while the job is not completed."""
        if self._result is _UNSET:
            if str(self._record.get("status", "")).lower() == "completed" and self.raw_result is not None:
                self._result = decode_job_result(
                    self.raw_result,
                    self._record.get("job_type"),
                    job_id=getattr(self, "job_id", None),
                    max_bytes=self._max_bytes,
                )
            else:
                self._result = None
        return self._result

    @property
    def description(self) -> Any:
        """The decoded description (for circuit jobs, a list of qibo Circuits)."""
        if self._description is _UNSET:
            self._description = decode_description(
                self.raw_description,
                self._record.get("job_type"),
                job_id=getattr(self, "job_id", None),
                max_bytes=self._max_bytes,
            )
        return self._description

    @property
    def failed(self) -> bool:
        """Whether the job ended in error."""
        return str(self._record.get("status", "")).lower() == "error"

    def to_dict(self) -> dict[str, Any]:
        """The record as the service sent it (result and description still encoded)."""
        return dict(self._record)

    def __repr__(self) -> str:
        shown = (
            "job_id",
            "status",
            "job_type",
            "device_id",
            "number_shots",
            "queue_position",
            "name",
            "error",
        )
        parts = [
            f"{key}={self._record.get(key)!r}" for key in shown if key in self._record or key == "job_id"
        ]
        return f"JobData({', '.join(parts)})"


class JobListingItem:
    """One job in a listing (a summary: no description or result); every field is an attribute."""

    id: int | None
    status: str
    user_id: int | None
    device_id: int
    job_type: str
    number_shots: int

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.__dict__.update(record)
        if "id" not in record:
            self.id = record.get("job_id")

    def to_dict(self) -> dict[str, Any]:
        """The item's fields."""
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return (
            f"JobListingItem(id={self.id!r}, status={getattr(self, 'status', None)!r}, "
            f"job_type={getattr(self, 'job_type', None)!r}, device_id={getattr(self, 'device_id', None)!r})"
        )


_TABLE_COLUMNS = ("id", "status", "job_type", "device_id", "number_shots", "user_id", "name", "created_at")


class JobListing(Sequence[JobListingItem]):
    """The user's jobs: ``items``, a plain text table (``str()``/``to_table()``) and ``dataframe`` (pandas)."""

    def __init__(self, items: Sequence[JobListingItem]) -> None:
        self.items = list(items)

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> JobListing:
        """Build a listing from the service's job summaries."""
        return cls([JobListingItem(record) for record in records])

    @overload
    def __getitem__(self, index: int) -> JobListingItem: ...
    @overload
    def __getitem__(self, index: slice) -> JobListing: ...
    def __getitem__(self, index: int | slice) -> JobListingItem | JobListing:
        if isinstance(index, slice):
            return JobListing(self.items[index])
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[JobListingItem]:
        return iter(self.items)

    @property
    def dataframe(self) -> pd.DataFrame:
        """The listing as a ``pandas.DataFrame`` (needs pandas, which qiboconnection does not install)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "JobListing.dataframe needs pandas, which is not installed: run `pip install pandas`, "
                "or use str(listing) / listing.to_table() / listing.items instead."
            ) from None
        frame = pd.DataFrame([item.to_dict() for item in self.items])
        for column in ("created_at", "updated_at"):
            if column in frame.columns:
                frame[column] = pd.to_datetime(frame[column], errors="coerce", utc=True)
        return frame

    def to_table(self, columns: Sequence[str] | None = None) -> str:
        """A plain text table of the listing."""
        if columns is None:
            present = {key for item in self.items for key in item.__dict__}
            columns = [column for column in _TABLE_COLUMNS if column in present] or ["id", "status"]
        rows = [[_cell(getattr(item, column, None)) for column in columns] for item in self.items]
        widths = [max([len(column)] + [len(row[n]) for row in rows]) for n, column in enumerate(columns)]
        lines = ["  ".join(column.ljust(widths[n]) for n, column in enumerate(columns)).rstrip()]
        lines.append("  ".join("-" * width for width in widths))
        lines.extend("  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row)).rstrip() for row in rows)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_table()

    def __repr__(self) -> str:
        return f"<JobListing: {len(self.items)} jobs>"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."

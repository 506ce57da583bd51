"""String enums for the values the service uses (they compare equal to the plain strings)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeviceStatus", "DeviceType", "JobStatus", "JobType"]


class JobStatus(StrEnum):
    """A job's status; ``CANCELED`` is the spelling of old records."""

    NOT_SENT = "not sent"
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    CANCELED = "canceled"


class JobType(StrEnum):
    """What a job carries."""

    CIRCUIT = "circuit"
    QPROGRAM = "qprogram"
    ANNEALING_PROGRAM = "annealing_program"
    VQA = "vqa"
    OTHER = "other"


class DeviceStatus(StrEnum):
    """Whether a device takes jobs."""

    ONLINE = "online"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"


class DeviceType(StrEnum):
    """The kind of device."""

    SIMULATOR_DEVICE = "simulator_device"
    QUANTUM_DEVICE = "quantum_device"
    QUANTUM_ANALOG_DEVICE = "quantum_analog_device"
    QUANTUM_DIGITAL_DEVICE = "quantum_digital_device"

"""Runcards and calibrations over real HTTP: admin members only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from qiboconnection.api import API
from qiboconnection.errors import NotFoundError, PermissionDeniedError
from qiboconnection.models.runcards import Calibration, Runcard

RUNCARD = {"name": "galadriel", "instruments": [{"alias": "awg", "channels": [0, 1]}], "ñ": "unicode ok"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_runcard_lifecycle(admin: API) -> None:
    name = unique("runcard")
    runcard_id = admin.save_runcard(name, "first", RUNCARD, 1, admin.user_id, "0.27.0")
    assert isinstance(runcard_id, int)
    assert admin.last_runcard is not None
    assert admin.last_runcard.id == runcard_id
    by_id = admin.get_runcard(runcard_id=runcard_id)
    by_name = admin.get_runcard(runcard_name=name)
    for runcard in (by_id, by_name):
        assert isinstance(runcard, Runcard)
        assert (runcard.id, runcard.name, runcard.description) == (runcard_id, name, "first")
        assert runcard.runcard == RUNCARD
        assert (runcard.device_id, runcard.user_id, runcard.qililab_version) == (1, admin.user_id, "0.27.0")
        assert runcard.created_at
        assert runcard.updated_at
    assert runcard_id in [runcard.id for runcard in admin.list_runcards()]
    by_id.description = "second"
    by_id.runcard = {**RUNCARD, "extra": 1}
    updated = admin.update_runcard(by_id)
    assert updated.description == "second"
    assert admin.get_runcard(runcard_id=runcard_id).runcard["extra"] == 1
    assert admin.last_runcard is updated
    admin.delete_runcard(runcard_id)
    with pytest.raises(NotFoundError):
        admin.get_runcard(runcard_id=runcard_id)
    with pytest.raises(NotFoundError):
        admin.get_runcard(runcard_name=name)


def test_calibration_lifecycle(admin: API) -> None:
    name = unique("calibration")
    text = "calibration:\n  q0: {freq: 5.1e9}\n# ~~~ ???"
    calibration_id = admin.save_calibration(name, "morning", text, 1, admin.user_id, "0.27.0")
    assert admin.last_calibration is not None
    assert admin.last_calibration.calibration == text
    for fetched in (
        admin.get_calibration(calibration_id=calibration_id),
        admin.get_calibration(calibration_name=name),
    ):
        assert isinstance(fetched, Calibration)
        assert (fetched.id, fetched.name, fetched.calibration) == (calibration_id, name, text)
    assert calibration_id in [calibration.id for calibration in admin.list_calibrations()]
    fetched.calibration = text + "\nupdated"
    assert admin.update_calibration(fetched).calibration.endswith("updated")
    admin.delete_calibration(calibration_id)
    with pytest.raises(NotFoundError):
        admin.get_calibration(calibration_id=calibration_id)


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("get_runcard", {}),
        ("get_runcard", {"runcard_id": 1, "runcard_name": "x"}),
        ("get_calibration", {}),
        ("get_calibration", {"calibration_id": 1, "calibration_name": "x"}),
    ],
)
def test_id_or_name_but_not_both(admin: API, method: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="_id or"):
        getattr(admin, method)(**kwargs)


def test_records_without_id_cannot_be_updated(admin: API) -> None:
    with pytest.raises(ValueError, match="no id"):
        admin.update_runcard(Runcard(name="x", runcard={}, device_id=1, user_id=1))
    with pytest.raises(ValueError, match="no id"):
        admin.update_calibration(Calibration(name="x", calibration="", device_id=1, user_id=1))
    with pytest.raises(TypeError, match="runcard_dict must be a dict"):
        admin.save_runcard("x", "d", "not a dict", 1, 1, "v")  # type: ignore[arg-type]


def test_users_are_refused(alice: API, admin: API) -> None:
    with pytest.raises(PermissionDeniedError):
        alice.save_runcard(unique("r"), "d", RUNCARD, 1, alice.user_id, "v")
    with pytest.raises(PermissionDeniedError):
        alice.list_runcards()
    with pytest.raises(PermissionDeniedError):
        alice.save_calibration(unique("c"), "d", "text", 1, alice.user_id, "v")
    with pytest.raises(PermissionDeniedError):
        alice.list_calibrations()
    runcard_id = admin.save_runcard(unique("r"), "d", RUNCARD, 1, admin.user_id, "v")
    try:
        with pytest.raises(PermissionDeniedError):
            alice.get_runcard(runcard_id=runcard_id)
        with pytest.raises(PermissionDeniedError):
            alice.delete_runcard(runcard_id)
    finally:
        admin.delete_runcard(runcard_id)

"""Contract tests: schemathesis drives the in-process app from openapi.yaml and validates every answer.

All default checks run (status codes, content types, headers and bodies against the spec, no server
errors, negative data rejected, auth not ignored, use after free...), then the stateful phase follows
the spec's links. Examples are bounded and derandomized so the run is reproducible and quick.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from qiboconnection.server.app import create_app
from qiboconnection.server.config import ServerConfig, UserSpec
from qiboconnection.server.db import SEED_DEVICES
from qiboconnection.server.spec import spec_path

AUDIENCE = "urn:qaas:contract-tests"
MAX_EXAMPLES = 25
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Statuses openapi.yaml documents for schema-valid requests the server still refuses: an id that does
# not exist (404), a device that takes no jobs or a duplicate name (409), a refused assertion or token
# (401), a role that may not do this (403), a description that cannot run or too many shots (422),
# throttled logins (429). Cancelling adds a body job_id that is not the path's (400), which no schema
# can tie to the path.
ACCEPTED_REFUSALS = ["2xx", "401", "403", "404", "409", "422", "429"]
CANCEL_REFUSALS = [*ACCEPTED_REFUSALS, "400"]

APP = create_app(
    ServerConfig(
        db_path=":memory:",
        users=(
            UserSpec("admin", "contract-admin-key", "admin"),
            UserSpec("user", "contract-user-key", "user"),
        ),
        # No workers: a job's status then depends only on the requests, which keeps runs reproducible.
        workers=0,
        kdf_cost=2**10,
        audiences=(AUDIENCE,),
    )
)


def _token(username: str) -> str:
    user = APP.store.user_by_name(username)
    return APP.tokens.issue(user["id"], user["role"], "access", AUDIENCE)


def _schema(username: str):
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261125,
            "cache": {"enabled": False},
            # Both phases: schema-valid requests, and negative data the server must refuse with a 4xx.
            "generation": {
                "deterministic": True,
                "max-examples": MAX_EXAMPLES,
                "mode": "all",
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_REFUSALS}},
            "operations": [
                {
                    "include-operation-id": "cancelJob",
                    "checks": {"positive_data_acceptance": {"expected-statuses": CANCEL_REFUSALS}},
                }
            ],
            "auth": {"openapi": {"bearerAuth": {"bearer": _token(username)}}},
        }
    )
    loaded = schemathesis.openapi.from_path(spec_path(), config=config)
    loaded.app = APP
    return loaded


admin_schema = _schema("admin")
user_schema = _schema("user")


@pytest.fixture(scope="module", autouse=True)
def _close_app() -> Iterator[None]:
    yield
    APP.close()


@admin_schema.parametrize()
@SETTINGS
def test_admin_requests_conform_to_the_spec(case):
    case.call_and_validate()


@user_schema.parametrize()
@SETTINGS
def test_user_requests_conform_to_the_spec(case):
    case.call_and_validate()


def _reset_state() -> None:
    """Start every stateful scenario from the same data, so that replays behave identically."""
    store = APP.store
    with store._lock:
        for table in ("jobs", "runcards", "calibrations"):
            store._conn.execute(f"DELETE FROM {table}")
    for seed in SEED_DEVICES:
        store.set_device_status(store.device_by_name(seed["name"])["id"], seed["status"])


def test_stateful_links():
    class Links(admin_schema.as_state_machine()):
        def setup(self) -> None:
            _reset_state()

    Links.run(
        settings=settings(
            max_examples=60,
            stateful_step_count=8,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )

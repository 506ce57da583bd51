"""openapi.yaml describes the hosted protocol of WIRE.md, completely and in a form the tools accept."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")

# Every operation of the hosted service, as WIRE.md names it (path parameters written `{}`).
WIRE_OPERATIONS = {
    ("GET", "/status"),
    ("POST", "/api/v1/authorisation-tokens"),
    ("POST", "/api/v1/authorisation-tokens/refresh"),
    ("GET", "/api/v1/users/{}"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/devices/{}"),
    ("PUT", "/api/v1/devices/{}"),
    ("POST", "/api/v1/circuits"),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{}"),
    ("PUT", "/api/v1/jobs/cancel/{}"),
    ("DELETE", "/api/v1/jobs/{}"),
    ("POST", "/api/v1/runcards"),
    ("GET", "/api/v1/runcards"),
    ("GET", "/api/v1/runcards/by_keys"),
    ("GET", "/api/v1/runcards/{}"),
    ("PUT", "/api/v1/runcards/{}"),
    ("DELETE", "/api/v1/runcards/{}"),
    ("POST", "/api/v1/calibrations"),
    ("GET", "/api/v1/calibrations"),
    ("GET", "/api/v1/calibrations/by_keys"),
    ("GET", "/api/v1/calibrations/{}"),
    ("PUT", "/api/v1/calibrations/{}"),
    ("DELETE", "/api/v1/calibrations/{}"),
}

OPEN_OPERATIONS = {("GET", "/status"), ("POST", "/api/v1/authorisation-tokens")}
ADMIN_PREFIXES = ("/api/v1/runcards", "/api/v1/calibrations")


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", maxsplit=1)[0])


def _wire_md() -> Path:
    """The protocol page: the team's shared copy when it sits beside the checkout, else ours."""
    shared = ROOT.parent / "shared" / "WIRE.md"
    return shared if shared.is_file() else ROOT / "docs" / "WIRE.md"


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method], item.get("parameters", [])


def test_spec_is_valid_openapi_3_0(spec):
    assert spec["openapi"].startswith("3.0.")
    validate(spec)


def test_table_covers_every_operation_named_in_wire_md():
    text = _wire_md().read_text()
    named = {(m, _normalise(p)) for m, p in re.findall(r"`(GET|POST|PUT|DELETE) (/[^`\s]*)`", text)}
    assert named, "no operation found in WIRE.md: has its format changed?"
    # "Calibrations: the same under /api/v1/calibrations" repeats every runcard operation.
    assert "the same under `/api/v1/calibrations`" in text
    named |= {(m, p.replace("/runcards", "/calibrations")) for m, p in named if "/runcards" in p}
    assert named <= WIRE_OPERATIONS, f"WIRE.md names operations missing here: {named - WIRE_OPERATIONS}"


def test_every_wire_operation_is_in_the_spec(spec):
    in_spec = {(method, _normalise(path)) for method, path, _, _ in _operations(spec)}
    assert WIRE_OPERATIONS - in_spec == set()
    assert in_spec - WIRE_OPERATIONS == set(), "the spec has operations WIRE.md does not describe"


def test_operations_are_documented(spec):
    ids = []
    for method, path, op, path_params in _operations(spec):
        where = f"{method} {path}"
        assert op.get("operationId"), where
        assert op.get("tags"), where
        assert op.get("summary"), where
        ids.append(op["operationId"])
        assert _has_example(spec, op, path_params), f"{where} has no example"
    assert len(ids) == len(set(ids))


def _has_example(spec: dict, op: dict, path_params: list) -> bool:
    bodies = [op.get("requestBody", {}), *op.get("responses", {}).values()]
    for body in bodies:
        for media in _resolve(spec, body).get("content", {}).values():
            if "example" in media or "examples" in media:
                return True
    params = [_resolve(spec, p) for p in op.get("parameters", []) + path_params]
    return any("example" in p for p in params if p["name"] != "X-Client-Version")


def test_security(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["security"] == [{"bearerAuth": []}]
    for method, path, op, _ in _operations(spec):
        is_open = op.get("security") == []
        assert is_open == ((method, path) in OPEN_OPERATIONS), f"{method} {path}"


def _resolve(spec: dict, obj: dict) -> dict:
    while "$ref" in obj:
        node = spec
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def test_errors_are_problem_documents(spec):
    for method, path, op, _ in _operations(spec):
        codes = set(op["responses"])
        assert {"401", "500"} <= codes or (method, path) in OPEN_OPERATIONS, f"{method} {path}"
        for code, raw in op["responses"].items():
            response = _resolve(spec, raw)
            if int(code) < 400:
                assert "application/problem+json" not in response.get("content", {})
                continue
            content = response["content"]
            assert list(content) == ["application/problem+json"], f"{method} {path} {code}"
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        if path.startswith(ADMIN_PREFIXES) or (method, path) in {
            ("PUT", "/api/v1/devices/{device_id}"),
            ("DELETE", "/api/v1/jobs/{job_id}"),
        }:
            assert "403" in codes, f"{method} {path} is for admins and must document 403"
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["properties"])


def test_rate_limits_carry_retry_after(spec):
    for name in ("TooManyRequests", "ServiceUnavailable"):
        assert "Retry-After" in spec["components"]["responses"][name]["headers"]


def test_listings_share_the_page_envelope(spec):
    schemas = spec["components"]["schemas"]
    page = schemas["Page"]
    assert set(page["required"]) == {"total", "per_page", "self", "links"}
    assert set(schemas["PageLinks"]["required"]) == {"first", "prev", "next", "last"}
    listings = {
        "/api/v1/devices": "DevicePage",
        "/api/v1/jobs": "JobPage",
        "/api/v1/runcards": "RuncardPage",
        "/api/v1/calibrations": "CalibrationPage",
    }
    for path, schema_name in listings.items():
        op = spec["paths"][path]["get"]
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + schema_name)
        first, second = schemas[schema_name]["allOf"]
        assert first == {"$ref": "#/components/schemas/Page"}
        assert second["required"] == ["items"]
        params = {_resolve(spec, p)["name"] for p in op["parameters"]}
        assert {"page", "per_page"} <= params, path


def test_loose_fields_are_open_strings_not_enums(spec):
    schemas = spec["components"]["schemas"]
    for schema_name, field in [
        ("Job", "status"),
        ("Job", "job_type"),
        ("JobSummary", "status"),
        ("JobSummary", "job_type"),
        ("Device", "type"),
    ]:
        prop = schemas[schema_name]["properties"][field]
        assert prop["type"] == "string" and "enum" not in prop, f"{schema_name}.{field}"
    status = schemas["Device"]["properties"]["status"]
    assert {branch["type"] for branch in status["anyOf"]} == {"string", "number"}
    for legacy in ("device_id", "device_name", "device_type"):
        assert legacy in schemas["Device"]["properties"]
    assert schemas["Job"]["properties"]["result"]["nullable"] is True
    for name, schema in schemas.items():
        if schema.get("type") == "object" and name != "DeviceStatusUpdate":
            assert schema.get("additionalProperties") is True, f"{name} must accept unknown fields"


def test_submission_links_to_get_cancel_and_delete(spec):
    links = spec["paths"]["/api/v1/circuits"]["post"]["responses"]["201"]["links"]
    targets = {link["operationId"] for link in links.values()}
    assert targets == {"getJob", "cancelJob", "deleteJob"}
    for link in links.values():
        assert link["parameters"] == {"job_id": "$response.body#/job_id"}
    headers = {_resolve(spec, p)["name"] for p in spec["paths"]["/api/v1/circuits"]["post"]["parameters"]}
    assert "Idempotency-Key" in headers


def test_every_operation_takes_the_client_version_header(spec):
    for method, path, op, _ in _operations(spec):
        names = {_resolve(spec, p)["name"] for p in op.get("parameters", [])}
        assert "X-Client-Version" in names, f"{method} {path}"


def test_check_generated_fails_when_the_spec_changes_without_regenerating(tmp_path):
    make = shutil.which("make")
    assert make, "GNU make is needed to run `make check-generated`"
    edited = tmp_path / "openapi.yaml"
    edited.write_text(SPEC_PATH.read_text().replace("Get one device", "Fetch one device"))
    clean = subprocess.run([make, "-s", "check-generated"], cwd=ROOT, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    stale = subprocess.run(
        [make, "-s", "check-generated", f"SPEC={edited}"], cwd=ROOT, capture_output=True, text=True
    )
    assert stale.returncode != 0
    assert "make generate" in stale.stderr

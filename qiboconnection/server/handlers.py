"""Operation handlers, one per ``operationId`` of openapi.yaml.

Routing, parameter parsing and request validation come from the spec (connexion); handlers only
apply the rules the schema cannot express and raise :class:`ApiProblem` for every refusal.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from connexion import request
from connexion.context import context
from connexion.lifecycle import ConnexionRequest

from qiboconnection.server.db import INT64_MAX, DuplicateName
from qiboconnection.server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    job_not_found,
)
from qiboconnection.server.jobs import Submitted
from qiboconnection.server.payloads import check_payload, decode_description
from qiboconnection.server.security import (
    GRANT_TYPE,
    decode_assertion,
    hash_api_key,
    quoted,
    verify_api_key,
)

if TYPE_CHECKING:
    from qiboconnection.server.app import QaasApp

logger = logging.getLogger("qiboconnection.server.handlers")

JSON = {"Content-Type": "application/json"}
# Token and submission answers tell clients that a resent submission with the same key is safe here.
IDEMPOTENT_JSON = {**JSON, "X-Idempotency-Keys": "honoured"}
API_PREFIX = "/api/v1"
# Descriptions this short are decoded on the event loop; longer ones in a thread.
INLINE_DESCRIPTION_MAX = 4096
# Only descriptions this short may be drawn on the event loop (longer ones go to a worker at once).
PREPARED_DESCRIPTION_MAX = 64 * 1024
# Verifying an unknown username against this keeps failed logins as slow as wrong keys.
_DUMMY_HASH_KEY = "not-a-real-api-key"

Response = tuple[Any, int, dict[str, str]]


def current_request() -> ConnexionRequest:
    """The request being handled (connexion's context proxy, typed as the request it stands for)."""
    return cast(ConnexionRequest, request)


def base_url() -> str:
    """Scheme and authority the client used to reach this server."""
    url = current_request().url
    return f"{url.scheme}://{url.netloc}"


def _normal_audience(audience: str) -> str:
    """Compare audiences without the slashes a base URL ending in ``/`` adds."""
    base, sep, rest = audience.rstrip("/").rpartition("/api/v1")
    return f"{base.rstrip('/')}{sep}{rest}"


def _claims() -> dict[str, Any]:
    claims: dict[str, Any] = context["token_info"]
    return claims


def _require_admin() -> dict[str, Any]:
    claims = _claims()
    if claims.get("user_role") != "admin":
        raise Forbidden()
    return claims


def _offset(page: int, per_page: int) -> int:
    """Rows before ``page``; past SQLite's 64-bit range every row is before it, so the largest offset."""
    return min((page - 1) * per_page, INT64_MAX)


def _page(
    items: list[dict[str, Any]],
    total: int,
    page: int,
    per_page: int,
    extra: dict[str, str],
    *,
    root: str | None = None,
) -> Response:
    """The hosted pagination envelope; links to pages that do not exist say ``page=None``.

    ``root`` is the URL the links start with (scheme, authority and path of this request).
    """
    last = max(1, math.ceil(total / per_page))
    root = root or f"{base_url()}{current_request().url.path}"

    def link(number: int | None) -> str:
        return f"{root}?{urlencode({'page': str(number), 'per_page': per_page, **extra})}"

    prev_page = min(page - 1, last) if page > 1 else None
    next_page = page + 1 if page < last else None
    body = {
        "items": items,
        "total": total,
        "per_page": per_page,
        "self": link(page),
        "links": {"first": link(1), "prev": link(prev_page), "next": link(next_page), "last": link(last)},
    }
    return body, 200, JSON


def _device_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "type": row["type"],
        "number_pending_jobs": row["number_pending_jobs"],
        "slurm_partition": row["slurm_partition"],
        "static_features": row["static_features"],
        "dynamic_features": row["dynamic_features"],
    }


def _job_summary(row: dict[str, Any], queue_position: int) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "user_id": row["user_id"],
        "device_id": row["device_id"],
        "job_type": row["job_type"],
        "number_shots": row["number_shots"],
        "queue_position": queue_position,
        "name": row["name"],
        "summary": row["summary"],
        "favourite": bool(row["favourite"]),
        "created_at": row["created_at"],
        "duration": row["duration"],
    }


def _job_out(row: dict[str, Any], queue_position: int) -> dict[str, Any]:
    return {
        "job_id": row["id"],
        "user_id": row["user_id"],
        "device_id": row["device_id"],
        "status": row["status"],
        "job_type": row["job_type"],
        "queue_position": queue_position,
        "description": row["description"],
        "number_shots": row["number_shots"],
        "result": row["result"],
        "error": row["error"],
        "name": row["name"],
        "summary": row["summary"],
        "favourite": bool(row["favourite"]),
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "duration": row["duration"],
    }


def _record_out(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    field = "runcard" if kind == "runcards" else "calibration"
    return {
        f"{field}_id": row["id"],
        "name": row["name"],
        "description": row["description"],
        field: row["body"],
        "device_id": row["device_id"],
        "user_id": row["user_id"],
        "qililab_version": row["qililab_version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _record_in(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    field = "runcard" if kind == "runcards" else "calibration"
    return {
        "name": body["name"],
        "description": body.get("description") or "",
        "body": body[field],
        "device_id": body["device_id"],
        "user_id": body["user_id"],
        "qililab_version": body.get("qililab_version") or "",
    }


class Handlers:
    """The operations of one server instance, bound to its store, tokens and job manager."""

    def __init__(self, app: QaasApp) -> None:
        self._app = app
        self._store = app.store
        self._dummy_hash = hash_api_key(_DUMMY_HASH_KEY, app.config.kdf_cost)

    def resolve(self, operation_id: str) -> Callable[..., Any]:
        """Map an ``operationId`` (camelCase) to the method of the same name in snake_case."""
        name = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation_id)
        function: Callable[..., Any] | None = getattr(self, name, None)
        if function is None or name.startswith("_"):
            raise AttributeError(f"no handler for operationId {operation_id!r}")
        return function

    # health
    async def get_status(self) -> Response:
        return "OK", 200, JSON

    # auth
    def audiences(self) -> list[str]:
        return [f"{base_url()}{API_PREFIX}", *self._app.config.audiences]

    def _tokens_body(self, access: str, refresh: str | None) -> dict[str, Any]:
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "bearer",
            "expiresIn": self._app.tokens.access_lifetime,
            "issuedAt": str(int(time.time())),
        }

    async def create_authorisation_token(self, body: dict[str, Any]) -> Response:
        config = self._app.config
        if body.get("grantType") != GRANT_TYPE:
            raise BadRequest(f"grantType must be {GRANT_TYPE!r}.")
        assertion = decode_assertion(body["assertion"])
        audiences = self.audiences()
        if _normal_audience(assertion.audience) not in {_normal_audience(a) for a in audiences}:
            raise Unauthorized(f"The assertion's audience must be {audiences[0]!r}.")
        if abs(time.time() - assertion.iat) > config.assertion_max_age:
            raise Unauthorized("The assertion's iat is too far from the server's clock.")
        throttle = self._app.throttle
        # The peer address of the connection; forwarding headers are not trusted.
        client = current_request().client
        address = client.host if client else ""
        throttle.check(assertion.username, address)
        user = self._store.user_by_name(assertion.username)
        stored = user["api_key_hash"] if user else self._dummy_hash
        valid = await asyncio.to_thread(verify_api_key, assertion.api_key, stored)
        if not valid or user is None or (assertion.user_id is not None and assertion.user_id != user["id"]):
            throttle.record_failure(assertion.username, address)
            logger.info("failed login for username %s", quoted(assertion.username))
            raise Unauthorized("Wrong username or API key.")
        throttle.record_success(assertion.username, address)
        audience = audiences[0]
        tokens = self._app.tokens
        access = tokens.issue(user["id"], user["role"], "access", audience)
        refresh = tokens.issue(user["id"], user["role"], "refresh", audience)
        return self._tokens_body(access, refresh), 200, IDEMPOTENT_JSON

    async def refresh_authorisation_token(self, body: dict[str, Any] | None = None) -> Response:
        claims = _claims()
        user = self._store.user_by_id(claims["user_id"])
        if user is None:
            raise Unauthorized("The token's user no longer exists.")
        access = self._app.tokens.issue(user["id"], user["role"], "access", claims["aud"])
        return self._tokens_body(access, None), 200, IDEMPOTENT_JSON

    # users
    async def get_user(self, user_id: int) -> Response:
        claims = _claims()
        user = None
        if claims["user_id"] == user_id or claims.get("user_role") == "admin":
            user = self._store.user_by_id(user_id)
        if user is None:
            raise NotFound(f"Requested user with 'user_id': {user_id}, does not exist.")
        out = {
            "user_id": user["id"],
            "username": user["username"],
            "slack_id": user["slack_id"],
            "role": user["role"],
            "created_at": user["created_at"],
        }
        return out, 200, JSON

    # devices
    async def list_devices(self, page: int = 1, per_page: int = 50) -> Response:
        rows, total = self._store.devices(_offset(page, per_page), per_page)
        return _page([_device_out(r) for r in rows], total, page, per_page, {})

    def _device_or_404(self, device_id: int) -> dict[str, Any]:
        device = self._store.device(device_id)
        if device is None:
            raise NotFound(f"Requested device with 'device_id': {device_id}, does not exist.")
        return device

    async def get_device(self, device_id: int) -> Response:
        return _device_out(self._device_or_404(device_id)), 200, JSON

    async def update_device_status(self, device_id: int, body: dict[str, Any]) -> Response:
        _require_admin()
        self._device_or_404(device_id)
        self._store.set_device_status(device_id, body["status"])
        logger.info("device %d set to %s", device_id, body["status"])
        return _device_out(self._device_or_404(device_id)), 200, JSON

    # jobs
    async def submit_job(self, body: dict[str, Any]) -> Response:
        return await self.submit(_claims(), body, current_request().headers.get("idempotency-key"))

    async def submit(self, claims: dict[str, Any], body: dict[str, Any], key: str | None) -> Response:
        """Store and queue the job ``body`` describes for the caller of ``claims``.

        A description longer than :data:`INLINE_DESCRIPTION_MAX` is decoded and checked in a thread: it
        may inflate to tens of megabytes. Shorter ones (a few megabytes at most once inflated) are
        checked here, which costs less than the hop to a thread.
        """
        user_id = claims["user_id"]
        if body.get("user_id") is not None and body["user_id"] != user_id:
            raise Forbidden(f"user_id {body['user_id']} is not the caller's id ({user_id}).")
        fields = {
            "user_id": user_id,
            "device_id": body["device_id"],
            "number_shots": body["number_shots"],
            "job_type": body["job_type"],
            "description": body["description"],
            "name": body.get("name") or "-",
            "summary": body.get("summary") or "-",
        }
        if len(fields["description"]) <= INLINE_DESCRIPTION_MAX:
            device, payload, request_hash = self._check_submission(fields, key)
        else:
            device, payload, request_hash = await asyncio.to_thread(self._check_submission, fields, key)
        job_id, created, stored_hash = self._store.insert_job(fields, key, request_hash)
        if created:
            submitted = None
            if fields["job_type"] == "circuit" and len(fields["description"]) <= PREPARED_DESCRIPTION_MAX:
                submitted = Submitted(payload, fields["number_shots"], device)
            self._app.jobs.submit(job_id, user_id, submitted)
        elif stored_hash != request_hash:
            raise Unprocessable("This Idempotency-Key was already used for a different submission.")
        else:
            logger.info("repeated submission answered with its job %d", job_id)
        return {"job_id": job_id}, 201, IDEMPOTENT_JSON

    def _check_submission(
        self, fields: dict[str, Any], key: str | None
    ) -> tuple[dict[str, Any], Any, str | None]:
        """:meth:`_validate_submission`, and the hash an Idempotency-Key is stored with (None without)."""
        device, payload = self._validate_submission(fields)
        request_hash = None
        if key is not None:
            request_hash = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return device, payload, request_hash

    def _validate_submission(self, fields: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The device and the decoded payload of a submission, or the problem that refuses it."""
        device_id = fields["device_id"]
        device = self._store.device_settings(device_id)
        if device is None:
            raise NotFound(f"Requested device with 'device_id': {device_id}, does not exist.")
        if device["status"] != "online":
            raise Conflict(
                f"Device {device_id} ({device['name']}) is {device['status']} and accepts no jobs."
            )
        max_shots = (device["static_features"] or {}).get("max_shots")
        if isinstance(max_shots, int) and fields["number_shots"] > max_shots:
            raise Unprocessable(
                f"number_shots is {fields['number_shots']}; device {device_id} allows at most {max_shots}."
            )
        _, payload = decode_description(fields["description"], self._app.config.max_decompressed_bytes)
        check_payload(fields["job_type"], payload)
        return device, payload

    def _visible_job(self, job_id: int, full: bool, claims: dict[str, Any] | None = None) -> dict[str, Any]:
        claims = claims or _claims()
        job = self._store.job(job_id) if full else self._store.job_meta(job_id)
        if job is None or (job["user_id"] != claims["user_id"] and claims.get("user_role") != "admin"):
            raise job_not_found(job_id)
        return job

    async def get_job(self, job_id: int) -> Response:
        return self.job(_claims(), job_id)

    def job(self, claims: dict[str, Any], job_id: int) -> Response:
        """The job ``job_id``, whole, if the caller of ``claims`` may see it."""
        job = self._visible_job(job_id, full=True, claims=claims)
        return _job_out(job, self._store.queue_position(job)), 200, JSON

    async def list_jobs(self, favourites: bool = False, page: int = 1, per_page: int = 50) -> Response:
        return self.jobs(_claims(), favourites, page, per_page)

    def jobs(
        self, claims: dict[str, Any], favourites: bool, page: int, per_page: int, root: str | None = None
    ) -> Response:
        """One page of the caller's jobs, newest first; ``root`` as in :func:`_page`."""
        rows, total = self._store.jobs_of_user(
            claims["user_id"], favourites, _offset(page, per_page), per_page
        )
        positions = self._store.queue_positions(rows)
        items = [_job_summary(r, positions[r["id"]]) for r in rows]
        extra = {"favourites": "true"} if favourites else {}
        return _page(items, total, page, per_page, extra, root=root)

    async def cancel_job(self, job_id: int, body: dict[str, Any]) -> Response:
        if body.get("job_id") is not None and body["job_id"] != job_id:
            raise BadRequest(f"The body's job_id {body['job_id']} is not the job_id {job_id} of the path.")
        self._visible_job(job_id, full=False)
        if not self._store.cancel_job(job_id):
            job = self._store.job_meta(job_id)
            if job is None:
                raise job_not_found(job_id)
            raise Conflict(f"Job {job_id} is {job['status']} and can no longer be cancelled.")
        logger.info("job %d cancelled", job_id)
        self._app.jobs.cancel(job_id)
        return None, 204, {}

    async def delete_job(self, job_id: int) -> Response:
        _require_admin()
        if not self._store.delete_job(job_id):
            raise job_not_found(job_id)
        logger.info("job %d deleted", job_id)
        self._app.jobs.cancel(job_id, deleted=True)
        return None, 204, {}

    # runcards and calibrations
    def _create(self, kind: str, body: dict[str, Any]) -> Response:
        _require_admin()
        try:
            row = self._store.insert_record(kind, _record_in(kind, body))
        except DuplicateName as exc:
            raise Conflict(f"A {kind[:-1]} named {body['name']!r} already exists.") from exc
        return _record_out(kind, row), 201, JSON

    def _get(self, kind: str, record_id: int) -> Response:
        _require_admin()
        row = self._store.record(kind, record_id)
        if row is None:
            raise NotFound(f"Requested {kind[:-1]} with '{kind[:-1]}_id': {record_id}, does not exist.")
        return _record_out(kind, row), 200, JSON

    def _get_by_name(self, kind: str, name: str) -> Response:
        _require_admin()
        row = self._store.record_by_name(kind, name)
        if row is None:
            raise NotFound(f"Requested {kind[:-1]} with 'name': {name!r}, does not exist.")
        return _record_out(kind, row), 200, JSON

    def _list(self, kind: str, page: int, per_page: int) -> Response:
        _require_admin()
        rows, total = self._store.records(kind, _offset(page, per_page), per_page)
        return _page([_record_out(kind, r) for r in rows], total, page, per_page, {})

    def _update(self, kind: str, record_id: int, body: dict[str, Any]) -> Response:
        _require_admin()
        try:
            row = self._store.update_record(kind, record_id, _record_in(kind, body))
        except DuplicateName as exc:
            raise Conflict(f"A {kind[:-1]} named {body['name']!r} already exists.") from exc
        if row is None:
            raise NotFound(f"Requested {kind[:-1]} with '{kind[:-1]}_id': {record_id}, does not exist.")
        return _record_out(kind, row), 200, JSON

    def _delete(self, kind: str, record_id: int) -> Response:
        _require_admin()
        if not self._store.delete_record(kind, record_id):
            raise NotFound(f"Requested {kind[:-1]} with '{kind[:-1]}_id': {record_id}, does not exist.")
        return None, 204, {}

    async def create_runcard(self, body: dict[str, Any]) -> Response:
        return self._create("runcards", body)

    async def list_runcards(self, page: int = 1, per_page: int = 50) -> Response:
        return self._list("runcards", page, per_page)

    async def get_runcard_by_name(self, name: str) -> Response:
        return self._get_by_name("runcards", name)

    async def get_runcard(self, runcard_id: int) -> Response:
        return self._get("runcards", runcard_id)

    async def update_runcard(self, runcard_id: int, body: dict[str, Any]) -> Response:
        return self._update("runcards", runcard_id, body)

    async def delete_runcard(self, runcard_id: int) -> Response:
        return self._delete("runcards", runcard_id)

    async def create_calibration(self, body: dict[str, Any]) -> Response:
        return self._create("calibrations", body)

    async def list_calibrations(self, page: int = 1, per_page: int = 50) -> Response:
        return self._list("calibrations", page, per_page)

    async def get_calibration_by_name(self, name: str) -> Response:
        return self._get_by_name("calibrations", name)

    async def get_calibration(self, calibration_id: int) -> Response:
        return self._get("calibrations", calibration_id)

    async def update_calibration(self, calibration_id: int, body: dict[str, Any]) -> Response:
        return self._update("calibrations", calibration_id, body)

    async def delete_calibration(self, calibration_id: int) -> Response:
        return self._delete("calibrations", calibration_id)

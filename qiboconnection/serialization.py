"""Encoding and decoding of the payloads the service carries inside JSON strings.

- Job descriptions and results: a JSON string ``{"data": Z, "encoding": "utf-8", "compression": "gzip"}``
  with ``Z = base64(gzip(json(payload)))`` (the "envelope"). Older non-circuit results are plain URL-safe
  base64 of JSON, with no envelope.
- Runcards: URL-safe base64 of the runcard dict's JSON. Calibrations: URL-safe base64 of the string.

Payloads are written with the standard ``json`` module so the decompressed bytes match what the released
client sends; they are read with ``orjson``. Decompression is capped so a hostile or corrupt answer cannot
exhaust memory.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any

import orjson

from qiboconnection.errors import ResultDecodeError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "b64decode_any",
    "decode_envelope",
    "decode_runcard",
    "decode_text",
    "encode_envelope",
    "encode_runcard",
    "encode_text",
    "gunzip_capped",
]

DEFAULT_MAX_BYTES = 1 << 30
_CHUNK = 1 << 20
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


# -- envelope ----------------------------------------------------------------------------------------


def encode_envelope(payload: Any, **extra: Any) -> str:
    """The JSON string the service expects as a job description; ``extra`` keys join the envelope."""
    raw = json.dumps(payload).encode("utf-8")
    data = base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
    return json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip", **extra})


def b64decode_any(text: str | bytes) -> bytes:
    """Decode base64 in either alphabet (standard or URL-safe), with or without padding; strict otherwise."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    raw = raw.strip().translate(_URLSAFE_TO_STANDARD)
    if len(raw) % 4:
        raw += b"=" * (-len(raw) % 4)
    return base64.b64decode(raw, validate=True)


def gunzip_capped(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decompress gzip data (one or more members), refusing output over ``max_bytes``."""
    out = bytearray()
    pending = data
    while pending:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        chunk_input = pending
        while True:
            room = max_bytes - len(out)
            piece = inflater.decompress(chunk_input, min(_CHUNK, room + 1))
            out += piece
            if len(out) > max_bytes:
                raise ValueError(f"decompressed size is over the {max_bytes} byte limit")
            chunk_input = inflater.unconsumed_tail
            if inflater.eof:
                break
            if not chunk_input and not piece:
                raise ValueError("gzip data is truncated")
        pending = inflater.unused_data.lstrip(b"\x00")
    return bytes(out)


def decode_envelope(
    text: str | bytes | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    job_id: int | None = None,
    allow_legacy: bool = True,
) -> Any:
    """Decode an envelope (or, with ``allow_legacy``, a plain URL-safe base64 JSON string) to its payload.

    Raises:
        ResultDecodeError: the text is not valid base64, gzip or JSON, or is over ``max_bytes``.
    """
    if text is None:
        return None
    try:
        outer = orjson.loads(text)
    except orjson.JSONDecodeError:
        outer = None
    if isinstance(outer, dict) and "data" in outer:
        return _decode_enveloped(outer, max_bytes=max_bytes, job_id=job_id)
    if not allow_legacy:
        raise ResultDecodeError(job_id, "expected a JSON object with 'data', 'encoding' and 'compression'")
    return _decode_legacy(text, max_bytes=max_bytes, job_id=job_id)


def _decode_enveloped(outer: dict[str, Any], *, max_bytes: int, job_id: int | None) -> Any:
    data = outer.get("data")
    if not isinstance(data, str):
        raise ResultDecodeError(job_id, "the envelope's 'data' is not a string")
    compression = (outer.get("compression") or "none").lower()
    encoding = outer.get("encoding") or "utf-8"
    try:
        raw = b64decode_any(data)
    except (binascii.Error, ValueError) as error:
        raise ResultDecodeError(job_id, f"'data' is not valid base64 ({error})") from None
    if compression == "gzip":
        try:
            raw = gunzip_capped(raw, max_bytes)
        except (zlib.error, ValueError) as error:
            raise ResultDecodeError(job_id, f"'data' is not valid gzip ({error})") from None
    elif compression not in {"none", "identity"}:
        raise ResultDecodeError(job_id, f"unknown compression {compression!r}")
    elif len(raw) > max_bytes:
        raise ResultDecodeError(job_id, f"payload is over the {max_bytes} byte limit")
    return _loads(raw, encoding, job_id)


def _decode_legacy(text: str | bytes, *, max_bytes: int, job_id: int | None) -> Any:
    if len(text) * 3 // 4 > max_bytes:
        raise ResultDecodeError(job_id, f"payload is over the {max_bytes} byte limit")
    try:
        raw = b64decode_any(text)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ResultDecodeError(job_id, "neither an envelope nor base64-encoded JSON") from None
    return _loads(raw, "utf-8", job_id)


def _loads(raw: bytes, encoding: str, job_id: int | None) -> Any:
    try:
        if encoding.lower().replace("-", "") not in {"utf8", "ascii"}:
            return orjson.loads(raw.decode(encoding))
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError, LookupError) as error:
        raise ResultDecodeError(job_id, f"payload is not valid JSON ({error})") from None


# -- runcards and calibrations ---------------------------------------------------------------------------


def encode_runcard(runcard: dict[str, Any]) -> str:
    """URL-safe base64 of the runcard's JSON."""
    return base64.urlsafe_b64encode(json.dumps(runcard).encode("utf-8")).decode("ascii")


def decode_runcard(encoded: str) -> Any:
    """Inverse of :func:`encode_runcard`."""
    try:
        return orjson.loads(b64decode_any(encoded))
    except (binascii.Error, ValueError) as error:
        raise ResultDecodeError(None, f"runcard is not base64-encoded JSON ({error})") from None


def encode_text(text: str) -> str:
    """URL-safe base64 of a UTF-8 string (how calibrations travel)."""
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decode_text(encoded: str) -> str:
    """Inverse of :func:`encode_text`."""
    try:
        return b64decode_any(encoded).decode("utf-8")
    except (binascii.Error, ValueError) as error:
        raise ResultDecodeError(None, f"calibration is not base64-encoded text ({error})") from None

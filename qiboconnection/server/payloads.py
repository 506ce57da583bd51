"""The ``{"data", "encoding", "compression"}`` envelope of job descriptions and results."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from typing import Any

from qiboconnection.server.errors import PayloadTooLarge, Unprocessable

# Results of wide circuits run to tens of megabytes of JSON; a low level keeps encoding fast.
_GZIP_LEVEL = 3
_B64_CHARS = re.compile(rb"^[A-Za-z0-9+/_\-]*={0,2}$")


def _b64decode(text: str) -> bytes:
    """Decode standard or URL-safe base64 strictly (the released client mixes the alphabets)."""
    raw = text.encode("ascii", "strict").strip()
    if not _B64_CHARS.match(raw):
        raise binascii.Error("invalid characters")
    raw = raw.replace(b"-", b"+").replace(b"_", b"/")
    raw += b"=" * (-len(raw) % 4)
    return base64.b64decode(raw, validate=True)


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Decompress gzip ``data``, refusing (413) anything that inflates beyond ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Unprocessable(f"description.data is not valid gzip: {exc}.") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"description.data inflates to more than the {limit} byte limit.")
    if not inflater.eof:
        raise Unprocessable("description.data is truncated gzip.")
    return out


def decode_description(description: str, max_decompressed: int) -> tuple[dict[str, Any], Any]:
    """Return (the envelope object, the decoded payload) of a job description, or raise a problem."""
    try:
        envelope = json.loads(description)
    except (ValueError, RecursionError) as exc:
        raise Unprocessable("description is not a JSON string.") from exc
    if not isinstance(envelope, dict):
        raise Unprocessable("description must be a JSON object with data, encoding and compression.")
    data = envelope.get("data")
    if not isinstance(data, str):
        raise Unprocessable("description.data must be a string.")
    encoding = envelope.get("encoding", "utf-8")
    if not isinstance(encoding, str) or encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Unprocessable("description.encoding must be 'utf-8'.")
    if envelope.get("compression", "gzip") != "gzip":
        raise Unprocessable("description.compression must be 'gzip'.")
    try:
        compressed = _b64decode(data)
    except (UnicodeEncodeError, ValueError, binascii.Error) as exc:
        raise Unprocessable("description.data is not valid base64.") from exc
    raw = gunzip_limited(compressed, max_decompressed)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Unprocessable("description.data does not hold UTF-8 text.") from exc
    except (ValueError, RecursionError) as exc:
        raise Unprocessable("description.data does not hold JSON.") from exc
    return envelope, payload


def _strip_comments(qasm: str) -> str:
    """The program without its leading blank and ``//`` comment lines (qibo writes one)."""
    text = qasm.lstrip()
    while text.startswith("//"):
        _, _, text = text.partition("\n")
        text = text.lstrip()
    return text


def check_payload(job_type: str, payload: Any) -> None:
    """Check the payload has the shape its job type needs (422 naming the problem otherwise)."""
    if job_type == "circuit":
        if not isinstance(payload, list) or not payload:
            raise Unprocessable("A circuit job's payload must be a non-empty list of OpenQASM strings.")
        for index, item in enumerate(payload):
            if not isinstance(item, str) or not _strip_comments(item).startswith("OPENQASM"):
                raise Unprocessable(f"Circuit {index} of the payload is not an OpenQASM program.")
    elif job_type == "qprogram":
        if not isinstance(payload, str):
            raise Unprocessable("A qprogram job's payload must be the serialized QProgram string.")
    elif job_type in ("annealing_program", "vqa") and not isinstance(payload, dict):
        raise Unprocessable(f"A {job_type} job's payload must be a JSON object.")


def encode_result(payload: Any) -> str:
    """Wrap a JSON-able result in the envelope the hosted service uses for results."""
    import orjson

    packed = gzip.compress(orjson.dumps(payload), compresslevel=_GZIP_LEVEL)
    return json.dumps(
        {"data": base64.b64encode(packed).decode("ascii"), "encoding": "utf-8", "compression": "gzip"}
    )


def decode_result(result: str) -> Any:
    """Inverse of :func:`encode_result` (used by tests and tools)."""
    envelope = json.loads(result)
    return json.loads(gzip.decompress(_b64decode(envelope["data"])).decode("utf-8"))

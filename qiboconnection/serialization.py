"""Encoding and decoding of the payloads the service carries inside JSON strings.

- Job descriptions and results: a JSON string ``{"data": Z, "encoding": "utf-8", "compression": "gzip"}``
  with ``Z = base64(gzip(json(payload)))`` (the "envelope"). Older non-circuit results are plain URL-safe
  base64 of JSON, with no envelope.
- Runcards: URL-safe base64 of the runcard dict's JSON. Calibrations: URL-safe base64 of the string.

Payloads are written with the standard ``json`` module so the decompressed bytes match what the released
client sends; they are read with ``orjson``.

Envelopes are inflated with ISA-L (the ``isal`` package, about twice as fast as zlib at this) where
it is installed, and with zlib otherwise; both read the same gzip.

Decompression is capped (:data:`DEFAULT_MAX_BYTES`, or ``QIBOCONNECTION_MAX_RESULT_BYTES``): output is
asked for at most one byte past the cap (in one call of the size the gzip trailer states, then a slice
at a time), and refused as soon as it passes the cap, or before inflating anything when the trailer
already states a larger size (see :func:`gunzip_capped`). An envelope that inflates past
the cap (a "gzip bomb") therefore costs at most the cap in memory, and a refused answer raises
:class:`~qiboconnection.errors.ResultDecodeError` naming the limit and how to raise it.

JSON parsed into Python objects takes far more room than its text (an empty list is 3 bytes of JSON and
64 of Python, a float 4 and 32), so before parsing, :func:`check_shape` estimates the objects from the
count of values and refuses more than :data:`OBJECT_FACTOR` times the cap. The large tables of circuit
results are not parsed into objects (see below), so this bounds what is left: counts, samples and the
payloads of other job types.

Decoding a circuit result and reading its arrays (``state()``, ``probabilities()``) takes at most about
three and a half times the decompressed size at its peak, counted from the request: the job record as
received, the envelope's text, the compressed and the decompressed bytes, and the arrays read (a 20-qubit
result of 110 MiB peaks 243 MiB above what was in use before, 2.2 times; a dense 18-qubit one of 33 MiB,
whose random digits compress less, 112 MiB, 3.4 times). Tables are read a piece at a time, so reading
them adds little beyond the arrays they give.
Payloads without large tables are parsed by orjson into Python objects, whose size depends on their
shape and is bounded by the cap only through it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import json
import operator
import re
import zlib
from collections.abc import Callable
from typing import Any, cast

import orjson

from qiboconnection.errors import ResultDecodeError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_SETTING",
    "OBJECT_FACTOR",
    "SHAPE_FLOOR",
    "OverLimit",
    "b64decode_any",
    "check_shape",
    "decode_envelope",
    "decode_runcard",
    "decode_text",
    "encode_envelope",
    "encode_runcard",
    "encode_text",
    "envelope_payload",
    "gunzip_capped",
    "loads",
    "parse_payload",
]

#: Largest decompressed payload accepted by default: 256 MiB. The largest result the service returns,
#: a 20-qubit simulator run whose 2^20 amplitudes are all non-zero, is about 134 MiB of JSON (final
#: state 58 MiB, probabilities 44 MiB, state probabilities 30 MiB); counts and samples of many shots
#: add at most a few tens of MiB.
DEFAULT_MAX_BYTES = 256 << 20
#: The setting that raises the cap (see :mod:`qiboconnection.config`).
MAX_BYTES_SETTING = "QIBOCONNECTION_MAX_RESULT_BYTES"
#: Python objects parsed from one payload may take about this many times the cap. The largest real
#: parsed part, counts of a million outcomes with samples of ten million bits, is about 420 MB
#: by the estimate of :func:`check_shape`, under the default 512 MiB.
OBJECT_FACTOR = 2
#: Python objects any payload may take whatever the cap (a small cap limits size, not shape).
SHAPE_FLOOR = 64 << 20
#: Estimated bytes of Python objects per JSON value (with its reference) and per container.
_VALUE_BYTES = 32
_CONTAINER_BYTES = 64
#: JSON documents at least this long are parsed with the standard library: orjson sizes its working
#: memory by the document's length, which for a job record carrying a multi-megabyte result string
#: means a transient peak of about ten times that length.
LARGE_DOCUMENT = 1 << 20
_CHUNK = 1 << 20
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def loads(document: str | bytes | bytearray) -> Any:
    """Parse JSON: orjson for ordinary documents, the standard library for very long ones.

    Raises:
        ValueError: (``json.JSONDecodeError`` or ``UnicodeDecodeError``) not valid JSON.
    """
    if len(document) >= LARGE_DOCUMENT:
        return json.loads(document)
    return orjson.loads(document)


# -- envelope ----------------------------------------------------------------------------------------


#: Payloads up to this many characters of JSON have their envelope data kept (see :func:`encode_envelope`).
_KEPT_PAYLOAD = 1 << 14


def encode_envelope(payload: Any, **extra: Any) -> str:
    """The JSON string the service expects as a job description; ``extra`` keys join the envelope.

    The same small payload sent again (a circuit submitted many times) reuses its compressed data.
    """
    text = json.dumps(payload)
    data = _envelope_data(text) if len(text) <= _KEPT_PAYLOAD else _compressed(text)
    return json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip", **extra})


def _compressed(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


_envelope_data = functools.lru_cache(maxsize=64)(_compressed)


def b64decode_any(text: str | bytes) -> bytes:
    """Decode base64 in either alphabet (standard or URL-safe), with or without padding; strict otherwise.

    Decoding is done by ``pybase64`` (vectorised, tens of times faster than the standard library on
    the multi-megabyte data of large results).

    Raises:
        binascii.Error: (a ``ValueError``) a byte outside the alphabet, or a wrong length or padding.
    """
    import pybase64

    # The usual text (standard alphabet, padded, no surrounding space) is decoded as it is.
    try:
        return pybase64.b64decode(text, validate=True)
    except ValueError:
        pass
    if isinstance(text, str):
        if not text.isascii():
            raise binascii.Error("base64 text holds a non-ASCII character")
        text = text.encode("ascii")
    raw = bytes(text)
    # Each step copies the text, so each runs only when the text needs it.
    if raw[:1].isspace() or raw[-1:].isspace():
        raw = raw.strip()
    if b"-" in raw or b"_" in raw:
        raw = raw.translate(_URLSAFE_TO_STANDARD)
    if len(raw) % 4:
        raw += b"=" * (-len(raw) % 4)
    return pybase64.b64decode(raw, validate=True)


class OverLimit(ValueError):
    """Decompressed data would be larger than the cap."""

    def __init__(self, max_bytes: int, stated: int | None = None) -> None:
        size = f" (its gzip trailer says {stated} bytes)" if stated is not None else ""
        super().__init__(
            f"the decompressed data is over the {max_bytes} byte limit ({max_bytes / 2**20:.4g} MiB){size}; "
            f"set {MAX_BYTES_SETTING} (or Settings(max_result_bytes=...)) higher to accept it"
        )
        self.max_bytes = max_bytes


@functools.cache
def _inflater() -> tuple[Callable[..., Any], tuple[type[Exception], ...]]:
    """``decompressobj`` of ISA-L when the ``isal`` package is installed, else zlib's (the same API),
    with the errors it raises on corrupt data."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib.decompressobj, (zlib.error,)
    # The stubs declare the error class as an instance; at run time it is a class.
    return isal_zlib.decompressobj, (zlib.error, cast(type[Exception], isal_zlib.error))


def gunzip_capped(data: bytes | bytearray, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decompress gzip data (one or more members), refusing output over ``max_bytes``.

    The last member's trailer holds its size modulo 2^32; when that alone is over ``max_bytes`` the data
    is refused without inflating anything. Otherwise the first member is inflated in one call asking
    for that size (so a single-member result, the usual case, is inflated without copies), and the rest
    at most :data:`_CHUNK` bytes at a time; output stops one byte past the cap, so memory stays within
    the cap plus a chunk whatever the trailer says.

    Raises:
        OverLimit: the output would be over ``max_bytes``.
        ValueError: truncated or corrupt gzip data.
    """
    stated = 0
    if len(data) >= 18:
        stated = int.from_bytes(data[-4:], "little")
        if stated > max_bytes:
            raise OverLimit(max_bytes, stated)
    decompressobj, errors = _inflater()
    pieces: list[bytes] = []
    size = 0
    view = memoryview(data)
    position = 0
    while position < len(view):
        inflater = decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending: bytes | memoryview = view[position:]
        while True:
            want = (stated or _CHUNK) if not pieces else _CHUNK
            try:
                piece = inflater.decompress(pending, min(want, max_bytes - size) + 1)
            except errors as error:
                raise ValueError(f"corrupt gzip data: {error}") from None
            pieces.append(piece)
            size += len(piece)
            if size > max_bytes:
                raise OverLimit(max_bytes)
            if inflater.eof:
                break
            pending = inflater.unconsumed_tail
            if not pending and not piece:
                raise ValueError("gzip data is truncated")
        # Step back over what follows the member, then over the zero padding some writers put between
        # members.
        position = len(view) - len(inflater.unused_data)
        while position < len(view) and view[position] == 0:
            position += 1
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


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
    return parse_payload(
        envelope_payload(text, max_bytes=max_bytes, job_id=job_id, allow_legacy=allow_legacy),
        job_id,
        max_bytes=max_bytes,
    )


def envelope_payload(
    text: str | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    job_id: int | None = None,
    allow_legacy: bool = True,
) -> bytes | bytearray:
    """The JSON bytes (UTF-8) an envelope carries, not yet parsed; see :func:`decode_envelope`."""
    written = _written_envelope(text)
    if written is not None:
        return _inflated(*written, max_bytes=max_bytes, job_id=job_id)
    try:
        outer = loads(text)
    except ValueError:
        outer = None
    if isinstance(outer, dict) and "data" in outer:
        return _enveloped_bytes(outer, max_bytes=max_bytes, job_id=job_id)
    if not allow_legacy:
        raise ResultDecodeError(job_id, "expected a JSON object with 'data', 'encoding' and 'compression'")
    return _legacy_bytes(text, max_bytes=max_bytes, job_id=job_id)


#: How every envelope the service and the clients write begins: ``json.dumps`` of a dict whose first
#: key is "data".
_ENVELOPE_HEAD = '{"data": "'
#: Longest text after ``data`` that :func:`_written_envelope` reads (the other keys are a few words).
_ENVELOPE_TAIL = 1 << 12


def _written_envelope(text: str | bytes) -> tuple[bytes, dict[str, Any]] | None:
    """An envelope's ``data`` decoded and its other keys, when the text is in the form the service
    writes (``data`` first, in the standard base64 alphabet, padded); None for any other form, which
    the plain path reads.

    A JSON parser would copy the megabytes of ``data`` into a new string, and base64 decoding would
    then read them again. Here the string is found by its closing quote, and the base64 decoder's own
    strict check stands in for the JSON string's: text it accepts holds no quote, backslash or control
    character, so it is exactly what a JSON parser would have read. Everything after ``data`` is parsed
    by orjson, with ``data`` replaced by null; a tail that could name ``data`` again (the key written
    out or escaped) is left to the plain path, which keeps the last of duplicate keys.
    """
    import pybase64

    if not isinstance(text, str) or not text.startswith(_ENVELOPE_HEAD):
        return None
    end = text.find('"', len(_ENVELOPE_HEAD))
    # Checked before the tail is cut out, so that a text without its closing quote is not copied whole.
    if end < 0 or len(text) - end - 1 > _ENVELOPE_TAIL:
        return None
    tail = text[end + 1 :]
    if '"data"' in tail or "\\" in tail:
        return None
    try:
        outer = orjson.loads('{"data":null' + tail)
        raw = pybase64.b64decode(text[len(_ENVELOPE_HEAD) : end], validate=True)
    except ValueError:
        return None
    return (raw, outer) if isinstance(outer, dict) else None


def _enveloped_bytes(outer: dict[str, Any], *, max_bytes: int, job_id: int | None) -> bytes | bytearray:
    data = outer.get("data")
    if not isinstance(data, str):
        raise ResultDecodeError(job_id, "the envelope's 'data' is not a string")
    try:
        raw = b64decode_any(data)
    except (binascii.Error, ValueError) as error:
        raise ResultDecodeError(job_id, f"'data' is not valid base64 ({error})") from None
    del data
    return _inflated(raw, outer, max_bytes=max_bytes, job_id=job_id)


def _inflated(raw: bytes, outer: dict[str, Any], *, max_bytes: int, job_id: int | None) -> bytes | bytearray:
    """An envelope's decoded ``data`` decompressed and re-encoded as its ``compression`` and
    ``encoding`` say."""
    compression = (outer.get("compression") or "none").lower()
    encoding = outer.get("encoding") or "utf-8"
    if compression == "gzip":
        try:
            raw = gunzip_capped(raw, max_bytes)
        except OverLimit as error:
            raise ResultDecodeError(job_id, str(error)) from None
        except ValueError as error:
            raise ResultDecodeError(job_id, f"'data' is not valid gzip ({error})") from None
    elif compression not in {"none", "identity"}:
        raise ResultDecodeError(job_id, f"unknown compression {compression!r}")
    elif len(raw) > max_bytes:
        raise ResultDecodeError(job_id, str(OverLimit(max_bytes)))
    if encoding.lower().replace("-", "") in {"utf8", "ascii"}:
        return raw
    try:
        return raw.decode(encoding).encode("utf-8")
    except (UnicodeDecodeError, LookupError) as error:
        raise ResultDecodeError(job_id, f"payload is not valid {encoding} text ({error})") from None


def _legacy_bytes(text: str | bytes, *, max_bytes: int, job_id: int | None) -> bytes:
    if len(text) * 3 // 4 > max_bytes:
        raise ResultDecodeError(job_id, str(OverLimit(max_bytes)))
    try:
        return b64decode_any(text)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ResultDecodeError(job_id, "neither an envelope nor base64-encoded JSON") from None


def check_shape(
    raw: bytes | bytearray, max_bytes: int = DEFAULT_MAX_BYTES, job_id: int | None = None
) -> None:
    """Refuse JSON whose Python objects would take more than :data:`OBJECT_FACTOR` times ``max_bytes``
    (and more than :data:`SHAPE_FLOOR`).

    The estimate counts 32 bytes per value (each ``,`` and ``:`` starts one) and 64 more per list or
    object (``[`` and ``{``); commas inside strings count too, so strings full of commas are
    overestimated. JSON costs at most 32 bytes per byte by this count, so shorter payloads are not
    counted at all.

    Raises:
        ResultDecodeError: naming the estimate, the limit and the setting that raises it.
    """
    budget = max(OBJECT_FACTOR * max_bytes, SHAPE_FLOOR)
    if len(raw) * _VALUE_BYTES <= budget:
        return
    values = 1 + raw.count(b",") + raw.count(b":")
    containers = raw.count(b"[") + raw.count(b"{")
    estimate = values * _VALUE_BYTES + containers * _CONTAINER_BYTES
    if estimate > budget:
        raise ResultDecodeError(
            job_id,
            f"the payload's {values} JSON values would take about {estimate >> 20} MiB as Python objects, "
            f"more than {budget >> 20} MiB ({OBJECT_FACTOR} times the {max_bytes} byte limit, at least "
            f"{SHAPE_FLOOR >> 20} MiB); set {MAX_BYTES_SETTING} "
            "(or Settings(max_result_bytes=...)) higher to accept it",
        )


def parse_payload(
    raw: bytes | bytearray, job_id: int | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Any:
    """Parse payload bytes from :func:`envelope_payload` as JSON, after :func:`check_shape`."""
    check_shape(raw, max_bytes, job_id)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
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


# -- large result tables -----------------------------------------------------------------------------------
#
# A simulator's circuit result holds tables of up to 2^n entries: ``final_state`` (index -> Python complex
# literal), ``final_state_probabilities`` and ``probabilities`` (index or bitstring -> number). Building
# millions of Python strings and floats to read them is slow and takes gigabytes, so large tables are
# read straight from the payload bytes, a piece of whole entries at a time: numpy checks the layout of
# the piece exactly (where its quotes, colons, commas, parentheses and signs are), one translation turns
# it into a JSON array of numbers (keys included), and orjson reads that array. Anything outside the
# forms Python and JSON write canonically makes these functions return None, and the caller falls back
# to the plain path (orjson and ``complex()``), which is exact by definition; a test holds the two
# paths to the same answers on thousands of damaged tables.

#: Keys of the large tables that are read lazily from the payload.
TABLE_KEYS = ("final_state", "final_state_probabilities", "probabilities")
#: Tables smaller than this (in bytes of JSON) are decoded as ordinary dicts.
LAZY_TABLE_BYTES = 1 << 20


def find_tables(raw: bytes | bytearray, keys: tuple[str, ...] = TABLE_KEYS) -> list[tuple[str, int, int]]:
    """Spans ``(key, start, end)`` (``raw[start:end]`` is the JSON object) of large flat tables in ``raw``.

    Only objects with no nested object qualify (so the first ``}`` closes them); the search resumes
    after each table found. The caller must confirm, by parsing the rest, that each span is the value
    of ``key`` in a result entry.
    """
    pattern = re.compile(
        rb'"(' + b"|".join(re.escape(key.encode()) for key in keys) + rb')"[ \t\r\n]*:[ \t\r\n]*\{'
    )
    spans = []
    position = 0
    while (found := pattern.search(raw, position)) is not None:
        start = found.end() - 1
        end = raw.find(b"}", start) + 1
        if end and end - start >= LAZY_TABLE_BYTES and raw.find(b"{", start + 1, end) == -1:
            spans.append((found.group(1).decode(), start, end))
            position = end
        else:
            position = found.end()
    return spans


_DIGITS = b"0123456789"
#: Keys of at most this many digits are read by orjson as integers (with a leading 1, under 2^63).
_MAX_KEY_DIGITS = 18
#: Keys of at most this many digits, with their leading 1, are under 2^53: exact as float64.
_EXACT_KEY_DIGITS = 15
#: Longest bitstring key read as a string (its binary value fits an int64).
_MAX_BITSTRING_DIGITS = 62


def _to_array(numbers: bytes, spaces: bytes, colon: bytes) -> bytes:
    """A translation turning a piece of a table into the inside of a JSON array of numbers: the bytes
    of ``numbers`` and commas are kept, ``spaces`` become spaces, a colon becomes ``colon``, and every
    other byte a NUL, which no JSON document may hold outside a string (so orjson refuses the piece)."""
    table = bytearray(256)
    for byte in numbers + b",":
        table[byte] = byte
    for byte in spaces:
        table[byte] = ord(" ")
    table[ord(":")] = colon[0]
    return bytes(table)


#: A piece of a table of numbers (JSON numbers; keys are digits) or of complex literals (the parts
#: Python writes, lowercase "e" only), as a JSON array: with the keys kept (their opening quote becomes
#: a 1 and the colon a comma) or blanked (colon and quotes become spaces).
_NUMBERS_WITH_KEYS = _to_array(_DIGITS + b".eE+-", b'"', b",")
_NUMBERS_WITHOUT_KEYS = _to_array(_DIGITS + b".eE+-", b'"', b" ")
_COMPLEX_WITH_KEYS = _to_array(_DIGITS + b".e+-", b'"()j', b",")
_COMPLEX_WITHOUT_KEYS = _to_array(_DIGITS + b".e+-", b'"()j', b" ")
#: Tables are read a piece of about this many bytes at a time (whole entries), so that every temporary
#: array is small, stays in the processor's caches and reuses the same memory.
_PIECE_BYTES = 1 << 19


@functools.cache
def _powers_of_ten() -> Any:
    """10**k for every key length k a leading 1 is put before (int64)."""
    import numpy as np

    return 10 ** np.arange(_MAX_KEY_DIGITS + 1, dtype=np.int64)


@functools.cache
def _digit_table() -> Any:
    """A 256-entry lookup table: which bytes are decimal digits."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[list(_DIGITS)] = True
    return table


@functools.cache
def _bitstring_table() -> Any:
    """For each number up to 111111, the binary value of its six decimal digits when they are all 0 or
    1, else -1."""
    import numpy as np

    table = np.full(111112, -1, dtype=np.int32)
    table[[int(format(value, "b")) for value in range(64)]] = np.arange(64, dtype=np.int32)
    return table


@functools.cache
def _decimal_of_six_bits() -> Any:
    """For each number below 64, its six bits read as a decimal number (5 -> 101)."""
    import numpy as np

    return np.array([int(format(value, "b")) for value in range(64)], dtype=np.int64)


class _NotCanonical(Exception):
    """The table is not in a form the fast path reads; the plain path will."""


class Keys:
    """Keys of a table: their lengths and decimal values, which are bitstrings and their binary values.

    Keys over :data:`_MAX_KEY_DIGITS` digits have no decimal value here (they can only be bitstrings).
    """

    def __init__(self, lengths: Any, decimal: Any, binary: Any = None, bits: Any = None) -> None:
        """``decimal`` may be None for keys that are all bitstrings (``binary`` given): it is then read
        from ``binary`` when asked for."""
        self.lengths = lengths
        self._decimal = decimal
        self._binary, self._bits = binary, bits

    @property
    def decimal(self) -> Any:
        """Each key read as a decimal number (0 for keys over :data:`_MAX_KEY_DIGITS` digits)."""
        if self._decimal is None:
            import numpy as np

            # The decimal reading of each bitstring, six bits at a time.
            decimals = _decimal_of_six_bits()
            decimal = np.zeros(len(self.lengths), dtype=np.int64)
            for shift in (12, 6, 0):
                decimal = decimal * 10**6 + decimals[(self._binary >> shift) & 63]
            self._decimal = np.where(self.lengths <= _MAX_KEY_DIGITS, decimal, 0)
        return self._decimal

    @decimal.setter
    def decimal(self, value: Any) -> None:
        """Set the decimal values (as read with the keys)."""
        self._decimal = value

    @classmethod
    def gathered(cls, piece: Any, starts: Any, ends: Any) -> Keys:
        """Keys read from ``piece[starts[i]:ends[i]]``, one length at a time, column by column.

        Raises:
            _NotCanonical: a key is empty, longer than 62 characters or not all digits.
        """
        import numpy as np

        lengths = ends - starts
        n = len(lengths)
        decimal = np.zeros(n, dtype=np.int64)
        binary = np.zeros(n, dtype=np.int64)
        bits = np.ones(n, dtype=bool)
        if not n:
            return cls(lengths, decimal, binary, bits)
        if lengths.min() < 1 or lengths.max() > 62:
            raise _NotCanonical
        present = np.flatnonzero(np.bincount(lengths))
        for length in present.tolist():
            rows = None if len(present) == 1 else np.flatnonzero(lengths == length)
            base = starts if rows is None else starts[rows]
            digits = piece[base[:, None] + np.arange(length, dtype=base.dtype)] - np.uint8(ord("0"))
            if np.any(digits > 9):
                raise _NotCanonical
            target = slice(None) if rows is None else rows
            bits[target] = row_bits = np.all(digits <= 1, axis=1)
            if row_bits.any():
                weights = np.left_shift(1, np.arange(length - 1, -1, -1, dtype=np.int64))
                binary[target] = digits.astype(np.int64) @ weights
            if length <= _MAX_KEY_DIGITS:
                weights = 10 ** np.arange(length - 1, -1, -1, dtype=np.int64)
                decimal[target] = digits.astype(np.int64) @ weights
        return cls(lengths, decimal, binary, bits)

    @classmethod
    def bitstrings(cls, text: bytes, lengths: Any) -> Keys:
        """Keys that are all ``lengths[0]`` characters long, one after another in ``text``, each made of
        0 and 1 only; their binary values are read by packing the bits, eight to a byte.

        Raises:
            _NotCanonical: a key holds another character.
        """
        import numpy as np

        count, length = len(lengths), int(lengths[0])
        characters = np.frombuffer(text, dtype=np.uint8).reshape(count, length)
        if not np.all((characters | 1) == ord("1")):
            raise _NotCanonical
        packed = np.packbits(characters & 1, axis=1)
        width = packed.shape[1]
        words = np.zeros((count, 8), dtype=np.uint8)
        words[:, 8 - width :] = packed
        binary = (words.view(">u8").ravel() >> np.uint64(8 * width - length)).astype(np.int64)
        return cls(lengths, None, binary, np.ones(count, dtype=bool))

    @classmethod
    def joined(cls, parts: list[Keys]) -> Keys:
        """The keys of consecutive pieces of one table, as one."""
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        lengths = np.concatenate([part.lengths for part in parts])
        lazy = all(part._decimal is None for part in parts)
        decimal = None if lazy else np.concatenate([part.decimal for part in parts])
        if all(part._bits is None for part in parts):
            return cls(lengths, decimal)
        binary = np.concatenate([part.binary for part in parts])
        bits = np.concatenate([part.bits for part in parts])
        return cls(lengths, decimal, binary, bits)

    def head(self, count: int) -> Keys:
        """The first ``count`` keys."""
        part = Keys(self.lengths[:count], None if self._decimal is None else self._decimal[:count])
        if self._bits is not None:
            part._bits, part._binary = self._bits[:count], self._binary[:count]
        return part

    def _digits(self) -> None:
        """Which keys are bitstrings, and their binary values, from the decimal values: six digits at a
        time through a table from each six-digit number made of 0 and 1 to its binary value."""
        import numpy as np

        table = _bitstring_table()
        decimal = np.maximum(self.decimal, 0)
        high, rest = np.divmod(decimal, 10**12)
        middle, low = np.divmod(rest, 10**6)
        binary = np.zeros(len(decimal), dtype=np.int64)
        bits = self.lengths <= _MAX_KEY_DIGITS
        for part, shift in ((high, 12), (low, 0), (middle, 6)):
            found = table[np.minimum(part, len(table) - 1)]
            bits &= (part < len(table)) & (found >= 0)
            binary |= found.astype(np.int64) << shift
        self._bits, self._binary = bits, np.where(bits, binary, 0)

    @property
    def bits(self) -> Any:
        """Which keys are made of 0 and 1 only."""
        if self._bits is None:
            self._digits()
        return self._bits

    @property
    def binary(self) -> Any:
        """Each key read as a binary number (meaningful where :attr:`bits`)."""
        if self._binary is None:
            self._digits()
        return self._binary

    def indices(self, nqubits: int | None) -> Any:
        """Each key's index: binary when it is a bitstring of ``nqubits`` characters, else decimal; None
        when a key has no index here (over :data:`_MAX_KEY_DIGITS` digits and not such a bitstring),
        which the plain path then reads and refuses."""
        import numpy as np

        if not nqubits or not len(self.lengths):
            binary = np.zeros(len(self.lengths), dtype=bool)
        else:
            binary = self.bits & (self.lengths == nqubits)
        if len(self.lengths) and np.any((self.lengths > _MAX_KEY_DIGITS) & ~binary):
            return None
        if binary.all():
            return self.binary
        return np.where(binary, self.binary, self.decimal) if binary.any() else self.decimal

    def blank(self, chunk: Any, opens: Any) -> None:
        """Overwrite the keys (their opening quotes at ``opens``) with spaces in ``chunk``."""
        import numpy as np

        for length in np.flatnonzero(np.bincount(self.lengths)).tolist():
            starts = opens[self.lengths == length]
            chunk[starts[:, None] + np.arange(1, length + 1, dtype=opens.dtype)] = ord(" ")


def _pieces(data: Any) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of whole entries of the table in ``data`` (a memoryview of its bytes),
    about :data:`_PIECE_BYTES` each: each piece starts at a key's opening quote, and consecutive pieces
    are parted by a comma (and the space ``json.dumps`` puts after it)."""
    spans = []
    start, end = 1, len(data) - 1
    while end - start > 2 * _PIECE_BYTES:
        at = start + _PIECE_BYTES
        window = bytes(data[at : at + 4096])
        found = [
            (position, gap) for gap, mark in ((1, b',"'), (2, b', "')) if (position := window.find(mark)) >= 0
        ]
        if not found:
            break
        position, gap = min(found)
        spans.append((start, at + position))
        start = at + position + gap
    spans.append((start, end))
    return spans


def _compact_piece(data: Any, start: int, end: int) -> bytes:
    """The bytes of a piece as compact JSON: without the spaces ``json.dumps`` puts after ``:`` and
    ``,``; any other whitespace is left to the plain path."""
    text = bytes(data[start:end])
    if b" " in text:
        text = text.replace(b": ", b":").replace(b", ", b",")
        if b" " in text:
            raise _NotCanonical
    return text


def _entries(
    text: bytes,
    key_open: Any,
    key_close: Any,
    counts: Any,
    complex_parts: Any = None,
    *,
    as_strings: bool = True,
) -> tuple[Keys, Any]:
    """The keys, and the values (one float64 array, ``counts[i]`` of them for entry ``i``) of a piece
    of a table of numbers, or of complex literals when ``complex_parts`` gives the separators (the signs
    between their real and imaginary parts), read by orjson as one JSON array.

    The piece's layout must be checked already; what is inside keys and values is checked here: the
    translation leaves nothing but numbers, commas and spaces (anything else becomes a byte orjson
    refuses), and the count of items read must be exactly the count expected. Separators become
    commas. Keys are read in one of three ways:

    - up to :data:`_MAX_KEY_DIGITS` digits: as integers in the array, with a leading 1 (so that "007"
      is the integer 1007); orjson reads them as integers exactly when they are all digits;
    - longer, all of one length, with ``as_strings``: as strings in the array (their quotes kept),
      which must all be bitstrings (:meth:`Keys.bitstrings`); when they are not, the piece is read
      again the other way;
    - otherwise by :meth:`Keys.gathered`, and blanked.
    """
    import numpy as np

    n = len(key_open)
    lengths = key_close - key_open - 1
    shortest, longest = int(lengths.min()), int(lengths.max())
    if shortest < 1:
        raise _NotCanonical
    total = int(counts.sum())
    stride = int(counts[0]) + 1
    uniform = bool(np.all(counts == counts[0]))
    strings = as_strings and uniform and _EXACT_KEY_DIGITS < longest == shortest <= _MAX_BITSTRING_DIGITS
    inline = not strings and longest <= _MAX_KEY_DIGITS
    if complex_parts is None:
        table = _NUMBERS_WITH_KEYS if inline or strings else _NUMBERS_WITHOUT_KEYS
    else:
        table = _COMPLEX_WITH_KEYS if inline or strings else _COMPLEX_WITHOUT_KEYS
    chunk = bytearray(b"[")
    chunk += text.translate(table)
    chunk += b"]"
    view = np.frombuffer(chunk, dtype=np.uint8)
    if strings:
        view[key_open + 1] = view[key_close + 1] = ord('"')
        keys = None
    elif inline:
        view[key_open + 1] = ord("1")
        keys = Keys(lengths, np.empty(n, dtype=np.int64))
    else:
        keys = Keys.gathered(np.frombuffer(text, dtype=np.uint8), key_open + 1, key_close)
        keys.blank(view, key_open + 1)
    if complex_parts is not None and len(complex_parts):
        view[complex_parts + 1] = ord(",")
    try:
        numbers = orjson.loads(chunk)
    except orjson.JSONDecodeError:
        raise _NotCanonical from None
    del chunk, view
    if len(numbers) != total + (0 if keys is not None and not inline else n):
        raise _NotCanonical
    if keys is None:
        try:
            keys = Keys.bitstrings("".join(numbers[::stride]).encode("ascii"), lengths)
        except _NotCanonical:
            return _entries(text, key_open, key_close, counts, complex_parts, as_strings=False)
        del numbers[::stride]
        return keys, np.fromiter(numbers, dtype=np.float64, count=total)
    if not inline:
        return keys, np.array(numbers, dtype=np.float64)
    if uniform and longest <= _EXACT_KEY_DIGITS:
        # Keys and values fit float64 exactly: one conversion of the whole array. The sum of the keys
        # stays an int exactly when orjson read every key as an integer (all digits).
        if type(sum(numbers[::stride])) is not int:
            raise _NotCanonical
        rows = np.fromiter(numbers, dtype=np.float64, count=len(numbers)).reshape(n, stride)
        keys.decimal = rows[:, 0].astype(np.int64) - _powers_of_ten()[lengths]
        return keys, rows[:, 1:].ravel()
    # Keys of 16 to 18 digits, or entries of two lengths: each key's place in the array, then the rest.
    key_at = np.cumsum(counts + 1) - (counts + 1)
    found = operator.itemgetter(*key_at.tolist())(numbers) if n > 1 else (numbers[0],)
    read = np.array(numbers, dtype=np.float64)
    keep = np.ones(len(read), dtype=bool)
    keep[key_at] = False
    values = read[keep]
    prefixed = np.array(found)
    if prefixed.dtype != np.int64:
        raise _NotCanonical
    keys.decimal = prefixed - _powers_of_ten()[lengths]
    return keys, values


def _read_table(seg: Any, piece: Callable[[Any, int, int], tuple[Keys, Any]]) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of the table whose bytes ``seg`` holds, read piece by piece, or None when any
    piece is not in a form the fast path reads."""
    import numpy as np

    data = memoryview(seg).cast("B")
    if len(data) < 2 or data[0] != ord("{") or data[-1] != ord("}"):
        return None
    try:
        if len(data) == 2:
            empty = np.zeros(0, dtype=np.int64)
            return Keys(empty, empty), np.zeros(0)
        parts = [piece(data, start, end) for start, end in _pieces(data)]
    except _NotCanonical:
        return None
    return Keys.joined([keys for keys, _ in parts]), np.concatenate([values for _, values in parts])


def _number_piece(data: Any, start: int, end: int) -> tuple[Keys, Any]:
    """Keys and values of one piece of a table of numbers."""
    import numpy as np

    text = _compact_piece(data, start, end)
    piece = np.frombuffer(text, dtype=np.uint8)
    quotes = np.flatnonzero(piece == ord('"'))
    key_open, key_close = quotes[0::2], quotes[1::2]
    n = len(key_close)
    # Entry i is `"key":value` followed by `,`: a colon right after each key, a comma right before
    # each following key, no value empty. A colon or comma elsewhere adds a number to those read.
    entry_ends = np.append(key_open[1:] - 1, len(text))
    if (
        not n
        or len(quotes) % 2
        or key_open[0] != 0
        or np.any(entry_ends - key_close < 3)
        or not np.all(piece[key_close + 1] == ord(":"))
        or not np.all(piece[entry_ends[:-1]] == ord(","))
    ):
        raise _NotCanonical
    return _entries(text, key_open, key_close, np.ones(n, dtype=np.int64))


def _complex_piece(data: Any, start: int, end: int) -> tuple[Keys, Any]:
    """Keys and values of one piece of a table of complex literals."""
    import numpy as np

    text = _compact_piece(data, start, end)
    piece = np.frombuffer(text, dtype=np.uint8)
    quotes = np.flatnonzero(piece == ord('"'))
    signs = np.flatnonzero((piece == ord("+")) | (piece == ord("-")))
    key_open, key_close, value_open, value_close = quotes[0::4], quotes[1::4], quotes[2::4], quotes[3::4]
    n = len(key_open)
    # Entry i is `"key":"value"` followed by `,` (a colon or comma elsewhere adds a number to those read).
    if (
        not n
        or len(quotes) % 4
        or key_open[0] != 0
        or value_close[-1] != len(text) - 1
        or not np.array_equal(value_open, key_close + 2)
        or not np.array_equal(key_open[1:], value_close[:-1] + 2)
        or not np.all(piece[key_close + 1] == ord(":"))
        or not np.all(piece[value_close[:-1] + 1] == ord(","))
    ):
        raise _NotCanonical
    starts, ends = value_open + 1, value_close  # value i is piece[starts[i]:ends[i]]
    if np.any(ends - starts < 2):
        raise _NotCanonical
    # "(" only first in a value, ")" only last and "j" just before the ")" (or last, for an imaginary
    # number without real part), and none elsewhere.
    paren = piece[starts] == ord("(")
    parens = int(np.count_nonzero(paren))
    inner_starts, inner_ends = starts[paren], ends[paren]
    if (
        np.count_nonzero(piece == ord("(")) != parens
        or np.count_nonzero(piece == ord(")")) != parens
        or np.count_nonzero(piece == ord("j")) != n
        or not np.all(piece[inner_ends - 1] == ord(")"))
        or not np.all(piece[np.where(paren, ends - 2, ends - 1)] == ord("j"))
    ):
        raise _NotCanonical
    # The sign between the real and imaginary parts follows a digit (an exponent's sign follows "e",
    # a leading sign the opening quote or parenthesis) and precedes one. In order, the k-th such sign
    # must lie inside the k-th value in parentheses: then each holds exactly one.
    digit = _digit_table()
    separators = signs[digit[piece[signs - 1]] & digit[piece[signs + 1]]]
    if len(separators) != parens or not (
        np.all(separators > inner_starts) and np.all(separators < inner_ends)
    ):
        raise _NotCanonical
    counts = np.where(paren, 2, 1)
    keys, flat = _entries(text, key_open, key_close, counts, separators)
    # The separator became a comma, so its minus is a negation. A real part written "-0", or an
    # imaginary "-0j", must stay a negative zero (JSON reads -0 as 0).
    negative = piece[separators] == ord("-")
    real_negative_zero = (
        (separators - inner_starts == 3)
        & (piece[inner_starts + 1] == ord("-"))
        & (piece[inner_starts + 2] == ord("0"))
    )
    imag_negative_zero = (
        ~paren & (ends - starts == 3) & (piece[starts] == ord("-")) & (piece[starts + 1] == ord("0"))
    )
    values = np.empty(n, dtype=np.complex128)
    if parens == n:
        values.real, values.imag = flat[0::2], flat[1::2]
        np.negative(values.imag, out=values.imag, where=negative)
        values.real[real_negative_zero] = -0.0
    else:
        last = np.cumsum(counts) - 1
        real, imag = np.zeros(n), flat[last]
        real[paren] = flat[last[paren] - 1]
        inner_imag = imag[paren]
        np.negative(inner_imag, out=inner_imag, where=negative)
        imag[paren] = inner_imag
        real[np.flatnonzero(paren)[real_negative_zero]] = -0.0
        values.real, values.imag = real, imag
    values.imag[imag_negative_zero] = -0.0
    return keys, values


def parse_number_table(seg: Any) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of a flat JSON object of string keys and number values, or None.

    ``seg`` holds the object's bytes (a uint8 array or any bytes-like object). Compact JSON and
    ``json.dumps``'s default spacing are read; anything else is left to the plain path.
    """
    return _read_table(seg, _number_piece)


def parse_complex_table(seg: Any) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of a flat JSON object of string keys and Python complex literals, or None.

    Reads the literals Python writes (``repr(complex)``): ``"(a+bj)"``, ``"(a-bj)"`` and ``"bj"`` with
    ``a`` and ``b`` finite float reprs; anything else (nan, inf, other spellings) gives None. ``seg``
    holds the object's bytes (a uint8 array or any bytes-like object). Compact JSON and
    ``json.dumps``'s default spacing are read; anything else is left to the plain path.
    """
    return _read_table(seg, _complex_piece)

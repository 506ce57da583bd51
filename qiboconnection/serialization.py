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
import functools
import gzip
import itertools
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
    "envelope_payload",
    "gunzip_capped",
    "parse_payload",
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


def gunzip_capped(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytearray:
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
    return out


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
        envelope_payload(text, max_bytes=max_bytes, job_id=job_id, allow_legacy=allow_legacy), job_id
    )


def envelope_payload(
    text: str | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    job_id: int | None = None,
    allow_legacy: bool = True,
) -> bytes | bytearray:
    """The JSON bytes (UTF-8) an envelope carries, not yet parsed; see :func:`decode_envelope`."""
    try:
        outer = orjson.loads(text)
    except orjson.JSONDecodeError:
        outer = None
    if isinstance(outer, dict) and "data" in outer:
        return _enveloped_bytes(outer, max_bytes=max_bytes, job_id=job_id)
    if not allow_legacy:
        raise ResultDecodeError(job_id, "expected a JSON object with 'data', 'encoding' and 'compression'")
    return _legacy_bytes(text, max_bytes=max_bytes, job_id=job_id)


def _enveloped_bytes(outer: dict[str, Any], *, max_bytes: int, job_id: int | None) -> bytes | bytearray:
    data = outer.get("data")
    if not isinstance(data, str):
        raise ResultDecodeError(job_id, "the envelope's 'data' is not a string")
    compression = (outer.get("compression") or "none").lower()
    encoding = outer.get("encoding") or "utf-8"
    try:
        raw: bytes | bytearray = b64decode_any(data)
    except (binascii.Error, ValueError) as error:
        raise ResultDecodeError(job_id, f"'data' is not valid base64 ({error})") from None
    del data, outer
    if compression == "gzip":
        try:
            raw = gunzip_capped(raw, max_bytes)
        except (zlib.error, ValueError) as error:
            raise ResultDecodeError(job_id, f"'data' is not valid gzip ({error})") from None
    elif compression not in {"none", "identity"}:
        raise ResultDecodeError(job_id, f"unknown compression {compression!r}")
    elif len(raw) > max_bytes:
        raise ResultDecodeError(job_id, f"payload is over the {max_bytes} byte limit")
    if encoding.lower().replace("-", "") in {"utf8", "ascii"}:
        return raw
    try:
        return raw.decode(encoding).encode("utf-8")
    except (UnicodeDecodeError, LookupError) as error:
        raise ResultDecodeError(job_id, f"payload is not valid {encoding} text ({error})") from None


def _legacy_bytes(text: str | bytes, *, max_bytes: int, job_id: int | None) -> bytes:
    if len(text) * 3 // 4 > max_bytes:
        raise ResultDecodeError(job_id, f"payload is over the {max_bytes} byte limit")
    try:
        return b64decode_any(text)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ResultDecodeError(job_id, "neither an envelope nor base64-encoded JSON") from None


def parse_payload(raw: bytes | bytearray, job_id: int | None = None) -> Any:
    """Parse payload bytes from :func:`envelope_payload` as JSON."""
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
# read straight from the payload bytes with numpy: the layout of the JSON object is checked exactly,
# keys are parsed column by column, and values are handed to orjson as one flat JSON array of numbers.
# Anything outside the forms Python and JSON write canonically makes these functions return None, and
# the caller falls back to the plain path (orjson and ``complex()``), which is exact by definition.

#: Keys of the large tables that are read lazily from the payload.
TABLE_KEYS = ("final_state", "final_state_probabilities", "probabilities")
#: Tables smaller than this (in bytes of JSON) are decoded as ordinary dicts.
LAZY_TABLE_BYTES = 1 << 20

_MAX_KEY_DIGITS = 18


def find_tables(raw: bytes | bytearray, keys: tuple[str, ...] = TABLE_KEYS) -> list[tuple[str, int, int]]:
    """Spans ``(key, start, end)`` (``raw[start:end]`` is the JSON object) of large flat tables in ``raw``.

    Only objects with no nested object or array and no escaped character qualify; the caller must
    confirm, by parsing the rest, that each span is the value of ``key`` in a result entry.
    """
    spans = []
    for key in keys:
        needle = b'"' + key.encode() + b'"'
        position = raw.find(needle)
        while position != -1:
            cursor = position + len(needle)
            while raw[cursor : cursor + 1] in (b" ", b"\n", b"\r", b"\t"):
                cursor += 1
            if raw[cursor : cursor + 1] == b":":
                cursor += 1
                while raw[cursor : cursor + 1] in (b" ", b"\n", b"\r", b"\t"):
                    cursor += 1
                if raw[cursor : cursor + 1] == b"{":
                    end = raw.find(b"}", cursor) + 1
                    if (
                        end - cursor >= LAZY_TABLE_BYTES
                        and raw.find(b"{", cursor + 1, end) == -1
                        and raw.find(b"[", cursor, end) == -1
                        and raw.find(b"\\", cursor, end) == -1
                    ):
                        spans.append((key, cursor, end))
            position = raw.find(needle, position + 1)
    spans.sort(key=lambda span: span[1])
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        if start < end:
            return []
    return spans


_WHITESPACE = b" \t\n\r"
_SETS = {
    "space": _WHITESPACE,
    "number": b"0123456789+-.eE" + _WHITESPACE + b":,{}",
    "value": b"0123456789.e+-()j",
    "digit": b"0123456789",
}


@functools.cache
def _byte_set(name: str) -> Any:
    """A 256-entry lookup table: which bytes belong to the named set."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[list(_SETS[name])] = True
    return table


class _Layout:
    """Where the strings, colons and commas of one flat JSON object are (positions in the segment)."""

    def __init__(self, seg: Any, strings_per_entry: int) -> None:
        import numpy as np

        quotes = np.flatnonzero(seg == ord('"'))
        if len(quotes) % (2 * strings_per_entry):
            raise _NotCanonical
        opens, closes = quotes[0::2], quotes[1::2]
        del quotes
        marks = np.zeros(len(seg) + 1, dtype=np.int8)
        marks[opens] = 1
        marks[closes + 1] -= 1
        inside = np.cumsum(marks[:-1], dtype=np.int8).view(bool)
        del marks
        self.inside = inside
        self.opens, self.closes = opens, closes
        self.n = len(opens) // strings_per_entry
        outside = ~inside
        self.colons = np.flatnonzero((seg == ord(":")) & outside)
        self.commas = np.flatnonzero((seg == ord(",")) & outside)
        del outside
        n = self.n
        if len(self.colons) != n or len(self.commas) != max(n - 1, 0):
            raise _NotCanonical
        body = seg[~inside]
        ends = np.flatnonzero(~_byte_set("space")[body])
        if not len(ends) or body[ends[0]] != ord("{") or body[ends[-1]] != ord("}"):
            raise _NotCanonical
        if np.count_nonzero(body == ord("{")) != 1 or np.count_nonzero(body == ord("}")) != 1:
            raise _NotCanonical


class _NotCanonical(Exception):
    """The table is not in a form the fast path reads; the plain path will."""


class Keys:
    """Keys of a table parsed as decimal and as binary numbers, with which are bitstrings and their lengths."""

    def __init__(self, seg: Any, starts: Any, ends: Any) -> None:
        import numpy as np

        lengths = ends - starts
        n = len(lengths)
        self.lengths = lengths
        self.decimal = np.zeros(n, dtype=np.int64)
        self.binary = np.zeros(n, dtype=np.int64)
        self.bits = np.ones(n, dtype=bool)
        if not n:
            return
        longest = int(lengths.max())
        if lengths.min() < 1 or longest > 62:
            raise _NotCanonical
        for column in range(longest):
            present = lengths > column
            digit = seg[np.where(present, starts + column, starts)].astype(np.int64) - ord("0")
            if np.any(present & ((digit < 0) | (digit > 9))):
                raise _NotCanonical
            self.bits &= ~present | (digit <= 1)
            if column < _MAX_KEY_DIGITS:
                self.decimal = np.where(present, self.decimal * 10 + digit, self.decimal)
            self.binary = np.where(present, self.binary * 2 + np.minimum(digit, 1), self.binary)
        self._long = lengths > _MAX_KEY_DIGITS

    def indices(self, nqubits: int | None) -> Any:
        """Each key's index: binary when it is a bitstring of ``nqubits`` characters, else decimal."""
        import numpy as np

        binary = self.bits & (self.lengths == nqubits) if nqubits else np.zeros(len(self.lengths), bool)
        if len(self.lengths) and np.any(self._long & ~binary):
            raise _NotCanonical
        return np.where(binary, self.binary, self.decimal)


def _flat_numbers(text: Any, expected: int) -> Any:
    import numpy as np

    try:
        values = orjson.loads(text.tobytes())
    except orjson.JSONDecodeError:
        raise _NotCanonical from None
    if not isinstance(values, list) or len(values) != expected:
        raise _NotCanonical
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise _NotCanonical from None


def parse_number_table(seg: Any) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of a flat JSON object of string keys and number values, or None.

    ``seg`` is the object's bytes as a uint8 array.
    """
    import numpy as np

    try:
        layout = _Layout(seg, 1)
        n = layout.n
        opens, closes, colons, commas = layout.opens, layout.closes, layout.colons, layout.commas
        # key i < colon i < (comma i) < key i+1
        if n and (np.any(colons <= closes) or np.any(colons[:-1] >= opens[1:])):
            raise _NotCanonical
        if n > 1 and (np.any(commas <= colons[:-1]) or np.any(commas >= opens[1:])):
            raise _NotCanonical
        if not _byte_set("number")[seg[~layout.inside]].all():
            raise _NotCanonical
        keys = Keys(seg, opens + 1, closes)
        text = seg.copy()
        text[layout.inside] = ord(" ")
        del layout
        text[colons] = ord(" ")
        text[text == ord("{")] = ord("[")
        text[text == ord("}")] = ord("]")
        return keys, _flat_numbers(text, n)
    except _NotCanonical:
        return None


def parse_complex_table(seg: Any) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of a flat JSON object of string keys and Python complex literals, or None.

    Reads the literals Python writes (``repr(complex)``): ``"(a+bj)"``, ``"(a-bj)"`` and ``"bj"`` with
    ``a`` and ``b`` finite float reprs; anything else (nan, inf, spaces, other spellings) gives None.
    """
    import numpy as np

    try:
        layout = _Layout(seg, 2)
        n = layout.n
        opens, closes, colons, commas = layout.opens, layout.closes, layout.colons, layout.commas
        key_open, key_close, value_open, value_close = opens[0::2], closes[0::2], opens[1::2], closes[1::2]
        del opens, closes
        if n and (np.any(colons <= key_close) or np.any(colons >= value_open)):
            raise _NotCanonical
        if n > 1 and (np.any(commas <= value_close[:-1]) or np.any(commas >= key_open[1:])):
            raise _NotCanonical
        keys = Keys(seg, key_open + 1, key_close)
        starts, ends = value_open + 1, value_close  # value i is seg[starts[i]:ends[i]]
        if n and np.any(ends - starts < 2):
            raise _NotCanonical
        marks = np.zeros(len(seg) + 1, dtype=np.int8)
        marks[starts] = 1
        marks[ends] -= 1
        in_value = np.cumsum(marks[:-1], dtype=np.int8).view(bool)
        del marks, layout
        if not _byte_set("value")[seg[in_value]].all():
            raise _NotCanonical
        paren = seg[starts] == ord("(")
        # "(" only at the start of a parenthesised value, ")" only at its end, "j" just before.
        expected_open = starts[paren]
        if not np.array_equal(np.flatnonzero((seg == ord("(")) & in_value), expected_open):
            raise _NotCanonical
        if not np.array_equal(np.flatnonzero((seg == ord(")")) & in_value), ends[paren] - 1):
            raise _NotCanonical
        j_at = np.where(paren, ends - 2, ends - 1)
        if not np.array_equal(np.flatnonzero((seg == ord("j")) & in_value), j_at):
            raise _NotCanonical
        # The sign between real and imaginary parts follows a digit (an exponent's sign follows "e",
        # a leading sign follows the opening quote or parenthesis) and precedes a digit.
        signs = ((seg == ord("+")) | (seg == ord("-"))) & in_value
        signs[1:] &= _byte_set("digit")[seg[:-1]]
        signs[:-1] &= _byte_set("digit")[seg[1:]]
        separators = np.flatnonzero(signs)
        del signs
        owner = np.searchsorted(starts, separators, side="right") - 1
        if not np.array_equal(np.bincount(owner, minlength=n), paren.astype(np.int64)):
            raise _NotCanonical
        negative = np.zeros(n, dtype=bool)
        negative[owner] = seg[separators] == ord("-")
        # A real part written "-0", or an imaginary "-0j", must stay a negative zero (JSON reads -0 as 0).
        real_negative_zero = np.zeros(n, dtype=bool)
        real_negative_zero[owner] = (separators - starts[owner] == 3) & (seg[starts[owner] + 1] == ord("-"))
        real_negative_zero[owner] &= seg[starts[owner] + 2] == ord("0")
        imag_negative_zero = (
            ~paren & (ends - starts == 3) & (seg[starts] == ord("-")) & (seg[starts + 1] == ord("0"))
        )

        text = np.full(len(seg), ord(" "), dtype=np.uint8)
        text[in_value] = seg[in_value]
        del in_value
        text[commas] = ord(",")
        text[separators] = ord(",")
        text[j_at] = ord(" ")
        text[expected_open] = ord(" ")
        text[ends[paren] - 1] = ord(" ")
        text[0], text[-1] = ord("["), ord("]")
        counts = np.where(paren, 2, 1)
        flat = _flat_numbers(text, int(counts.sum()))
        del text
        first = np.cumsum(counts) - counts
        values = np.empty(n, dtype=np.complex128)
        values.real = np.where(paren, flat[first], 0.0)
        values.imag = np.where(paren, flat[np.minimum(first + 1, len(flat) - 1)], flat[first])
        values.imag[negative] = -values.imag[negative]
        values.real[real_negative_zero] = -0.0
        values.imag[imag_negative_zero] = -0.0
        return keys, values
    except _NotCanonical:
        return None

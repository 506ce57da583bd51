"""Encoding and decoding of the payloads the service carries inside JSON strings.

- Job descriptions and results: a JSON string ``{"data": Z, "encoding": "utf-8", "compression": "gzip"}``
  with ``Z = base64(gzip(json(payload)))`` (the "envelope"). Older non-circuit results are plain URL-safe
  base64 of JSON, with no envelope.
- Runcards: URL-safe base64 of the runcard dict's JSON. Calibrations: URL-safe base64 of the string.

Payloads are written with the standard ``json`` module so the decompressed bytes match what the released
client sends; they are read with ``orjson``.

Decompression is capped (:data:`DEFAULT_MAX_BYTES`, or ``QIBOCONNECTION_MAX_RESULT_BYTES``): the data is
inflated a slice at a time into one growing buffer, and refused as soon as it passes the cap, or before
inflating anything when the gzip trailer already states a larger size. An envelope that inflates past
the cap (a "gzip bomb") therefore costs at most the cap in memory, and a refused answer raises
:class:`~qiboconnection.errors.ResultDecodeError` naming the limit and how to raise it.

JSON parsed into Python objects takes far more room than its text (an empty list is 3 bytes of JSON and
64 of Python, a float 4 and 32), so before parsing, :func:`check_shape` estimates the objects from the
count of values and refuses more than :data:`OBJECT_FACTOR` times the cap. The large tables of circuit
results are not parsed into objects (see below), so this bounds what is left: counts, samples and the
payloads of other job types.

Decoding a circuit result and reading its arrays (``state()``, ``probabilities()``) takes at most about
three times the decompressed size at its peak: the payload itself, the compressed bytes while
inflating, and the position arrays of the table being read (a 20-qubit result of 134 MiB peaks about
300 MB above what was in use before, 2.1 times; an 18-qubit one of 33 MiB about 100 MB, 2.9 times).
Payloads without large tables are parsed by orjson into Python objects, whose size depends on their
shape and is bounded by the cap only through it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import json
import re
import zlib
from collections.abc import Callable
from typing import Any

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
_INPUT_CHUNK = 1 << 18
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
    """Decode base64 in either alphabet (standard or URL-safe), with or without padding; strict otherwise."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    raw = raw.strip().translate(_URLSAFE_TO_STANDARD)
    if len(raw) % 4:
        raw += b"=" * (-len(raw) % 4)
    return base64.b64decode(raw, validate=True)


class OverLimit(ValueError):
    """Decompressed data would be larger than the cap."""

    def __init__(self, max_bytes: int, stated: int | None = None) -> None:
        size = f" (its gzip trailer says {stated} bytes)" if stated is not None else ""
        super().__init__(
            f"the decompressed data is over the {max_bytes} byte limit ({max_bytes / 2**20:.4g} MiB){size}; "
            f"set {MAX_BYTES_SETTING} (or Settings(max_result_bytes=...)) higher to accept it"
        )
        self.max_bytes = max_bytes


def gunzip_capped(data: bytes | bytearray, max_bytes: int = DEFAULT_MAX_BYTES) -> bytearray:
    """Decompress gzip data (one or more members), refusing output over ``max_bytes``.

    The last member's trailer holds its size modulo 2^32; when that alone is over ``max_bytes`` the data
    is refused without inflating anything. Otherwise input is fed a slice at a time and output is added
    to one buffer (never more than :data:`_CHUNK` bytes past the cap), so memory stays within the
    decompressed size plus a chunk.

    Raises:
        OverLimit: the output would be over ``max_bytes``.
        ValueError: truncated gzip data (``zlib.error`` for corrupt data).
    """
    if len(data) >= 18:
        stated = int.from_bytes(data[-4:], "little")
        if stated > max_bytes:
            raise OverLimit(max_bytes, stated)
    out = bytearray()
    view = memoryview(data)
    position = 0
    while position < len(view):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        while not inflater.eof:
            pending: bytes | memoryview = inflater.unconsumed_tail
            if not pending:
                if position >= len(view):
                    raise ValueError("gzip data is truncated")
                pending = view[position : position + _INPUT_CHUNK]
                position += len(pending)
            out += inflater.decompress(pending, min(_CHUNK, max_bytes - len(out) + 1))
            if len(out) > max_bytes:
                raise OverLimit(max_bytes)
        # What follows the member came at the end of the last slice: step back over it, then over
        # the zero padding some writers put between members.
        position -= len(inflater.unused_data)
        while position < len(view) and view[position] == 0:
            position += 1
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
    try:
        outer = loads(text)
    except ValueError:
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
        except OverLimit as error:
            raise ResultDecodeError(job_id, str(error)) from None
        except (zlib.error, ValueError) as error:
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


_WHITESPACE = b" \t\n\r"
_SETS = {
    "space": _WHITESPACE,
    "digit": b"0123456789",
    # Every byte a table of numbers may hold (keys are digits; the rest is JSON around numbers).
    "number": b"0123456789+-.eE" + _WHITESPACE + b':,{}"',
    # Every byte a table of complex literals may hold.
    "complex": b"0123456789.e+-()j" + _WHITESPACE + b':,{}"',
}
#: Rows handled at once when keys are gathered into a 2-D array (bounds the temporary index array).
_KEY_ROWS = 1 << 16


@functools.cache
def _byte_set(name: str) -> Any:
    """A 256-entry lookup table: which bytes belong to the named set."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[list(_SETS[name])] = True
    return table


class _NotCanonical(Exception):
    """The table is not in a form the fast path reads; the plain path will."""


def _positions(mask: Any) -> Any:
    """Indices of the true entries of ``mask``, as int32 (segments are under 2 GiB) to halve their memory."""
    import numpy as np

    return np.flatnonzero(mask).astype(np.int32)


class _Layout:
    """Where the strings, colons and commas of one flat JSON object are (positions in ``seg``).

    Checks, without materialising per-byte masks, that the object is exactly ``{`` string ``:`` value
    (``,`` string ``:`` value)* ``}`` with optional whitespace between tokens and none inside strings:
    colons and commas are counted and each must sit between the right strings, and every byte outside
    the strings must be one of them, a brace, whitespace or (for number values) part of a number.
    """

    def __init__(self, seg: Any, strings_per_entry: int, allowed: str) -> None:
        import numpy as np

        if len(seg) < 2 or seg[0] != ord("{") or seg[-1] != ord("}"):
            raise _NotCanonical
        text = seg.tobytes()
        if text.translate(None, _SETS[allowed]):
            raise _NotCanonical
        if any(space in text for space in (b" ", b"\t", b"\n", b"\r")):
            spaces = _positions(_byte_set("space")[seg])
        else:
            spaces = np.zeros(0, dtype=np.int32)
        # The only braces are the first and last bytes.
        if text.find(b"{", 1) != -1 or text.find(b"}", 0, len(text) - 1) != -1:
            raise _NotCanonical
        del text
        if len(seg) >= 1 << 31:
            raise _NotCanonical
        quotes = _positions(seg == ord('"'))
        if len(quotes) % (2 * strings_per_entry):
            raise _NotCanonical
        self.opens, self.closes = quotes[0::2], quotes[1::2]
        del quotes
        self.n = n = len(self.opens) // strings_per_entry
        self.colons = _positions(seg == ord(":"))
        self.commas = _positions(seg == ord(","))
        if len(self.colons) != n or len(self.commas) != max(n - 1, 0):
            raise _NotCanonical
        # No whitespace inside a string.
        if len(spaces) and n:
            owner = np.searchsorted(self.opens, spaces, side="right") - 1
            if np.any((owner >= 0) & (spaces <= self.closes[np.maximum(owner, 0)])):
                raise _NotCanonical


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
        self._long = np.zeros(n, dtype=bool)
        if not n:
            return
        longest = int(lengths.max())
        if lengths.min() < 1 or longest > 62:
            raise _NotCanonical
        # Keys of one length at a time, a block of rows at a time: one gather, then row-wise sums.
        present = np.flatnonzero(np.bincount(lengths))
        for length in present.tolist():
            rows = None if len(present) == 1 else np.flatnonzero(lengths == length)
            base = starts if rows is None else starts[rows]
            columns = np.arange(length, dtype=base.dtype)
            binary_weights = np.left_shift(1, np.arange(length - 1, -1, -1, dtype=np.int64))
            decimal_weights = 10 ** np.arange(min(length, _MAX_KEY_DIGITS) - 1, -1, -1, dtype=np.int64)
            for first in range(0, len(base), _KEY_ROWS):
                block = slice(first, first + _KEY_ROWS)
                digits = seg[base[block, None] + columns] - np.uint8(ord("0"))
                if np.any(digits > 9):
                    raise _NotCanonical
                target = block if rows is None else rows[block]
                bits = np.all(digits <= 1, axis=1)
                self.bits[target] = bits
                if bits.any():
                    self.binary[target] = digits.astype(np.int64) @ binary_weights
                if length <= _MAX_KEY_DIGITS:
                    self.decimal[target] = digits.astype(np.int64) @ decimal_weights
        self._long = lengths > _MAX_KEY_DIGITS

    def indices(self, nqubits: int | None) -> Any:
        """Each key's index: binary when it is a bitstring of ``nqubits`` characters, else decimal."""
        import numpy as np

        binary = self.bits & (self.lengths == nqubits) if nqubits else np.zeros(len(self.lengths), bool)
        if len(self.lengths) and np.any(self._long & ~binary):
            raise _NotCanonical
        return np.where(binary, self.binary, self.decimal)

    def blank(self, text: Any, opens: Any, rows: slice) -> None:
        """Overwrite keys ``rows`` and their quotes (starting at ``opens``) with spaces in ``text``."""
        import numpy as np

        lengths = self.lengths[rows]
        if not len(lengths):
            return
        for length in np.flatnonzero(np.bincount(lengths)):
            starts = opens if lengths[0] == lengths[-1] == length else opens[lengths == length]
            text[starts[:, None] + np.arange(length + 2, dtype=opens.dtype)] = ord(" ")


#: Entries read per orjson call, so that the text copies and Python floats alive at once stay small.
_ENTRIES_PER_CHUNK = 1 << 16


def _chunked_numbers(
    seg: Any,
    first_byte: Any,
    last_byte: Any,
    numbers: Any,
    blank: Callable[[Any, slice, int], None],
) -> Any:
    """Read entries' numbers chunk by chunk: entry i spans ``seg[first_byte[i]:last_byte[i]]``.

    ``blank(text, rows, offset)`` turns a chunk's copy into the inside of a JSON array of numbers
    (``numbers[i]`` of them for entry ``i``); the values of all entries come back as one float64 array.
    """
    import numpy as np

    n = len(first_byte)
    out = np.empty(int(numbers.sum()), dtype=np.float64)
    filled = 0
    for first in range(0, n, _ENTRIES_PER_CHUNK):
        rows = slice(first, min(first + _ENTRIES_PER_CHUNK, n))
        offset = int(first_byte[rows.start]) - 1
        end = int(last_byte[rows.stop - 1])
        text = np.empty(end - offset + 1, dtype=np.uint8)
        text[1:-1] = seg[offset + 1 : end]
        text[0], text[-1] = ord("["), ord("]")
        blank(text, rows, offset)
        expected = int(numbers[rows].sum())
        try:
            values = orjson.loads(text.data)
        except orjson.JSONDecodeError:
            raise _NotCanonical from None
        if not isinstance(values, list) or len(values) != expected:
            raise _NotCanonical
        try:
            out[filled : filled + expected] = values
        except (TypeError, ValueError, OverflowError):
            raise _NotCanonical from None
        filled += expected
    return out


def parse_number_table(seg: Any) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of a flat JSON object of string keys and number values, or None.

    ``seg`` is the object's bytes as a uint8 array.
    """
    import numpy as np

    try:
        layout = _Layout(seg, 1, "number")
        n = layout.n
        opens, closes, colons, commas = layout.opens, layout.closes, layout.colons, layout.commas
        # key i < colon i < (comma i) < key i+1
        if n and (np.any(colons <= closes) or np.any(colons[:-1] >= opens[1:])):
            raise _NotCanonical
        if n > 1 and (np.any(commas <= colons[:-1]) or np.any(commas >= opens[1:])):
            raise _NotCanonical
        keys = Keys(seg, opens + 1, closes)
        ends = np.append(commas, len(seg) - 1)

        def blank(text: Any, rows: slice, offset: int) -> None:
            keys.blank(text, opens[rows] - offset, rows)
            text[colons[rows] - offset] = ord(" ")

        return keys, _chunked_numbers(seg, opens, ends, np.ones(n, dtype=np.int64), blank)
    except _NotCanonical:
        return None


def parse_complex_table(seg: Any) -> tuple[Keys, Any] | None:
    """``(keys, values)`` of a flat JSON object of string keys and Python complex literals, or None.

    Reads the literals Python writes (``repr(complex)``): ``"(a+bj)"``, ``"(a-bj)"`` and ``"bj"`` with
    ``a`` and ``b`` finite float reprs; anything else (nan, inf, spaces, other spellings) gives None.
    """
    import numpy as np

    try:
        layout = _Layout(seg, 2, "complex")
        n = layout.n
        opens, closes, colons, commas = layout.opens, layout.closes, layout.colons, layout.commas
        key_open, key_close, value_open, value_close = opens[0::2], closes[0::2], opens[1::2], closes[1::2]
        del layout, opens, closes
        if n and (np.any(colons <= key_close) or np.any(colons >= value_open)):
            raise _NotCanonical
        if n > 1 and (np.any(commas <= value_close[:-1]) or np.any(commas >= key_open[1:])):
            raise _NotCanonical
        keys = Keys(seg, key_open + 1, key_close)
        starts, ends = value_open + 1, value_close  # value i is seg[starts[i]:ends[i]]
        if n and np.any(ends - starts < 2):
            raise _NotCanonical
        # Keys are digits, so any "(", ")", "j" or sign is in a value: "(" only first in a value,
        # ")" only last, "j" just before the ")" (or last, for an imaginary number without real part).
        paren = seg[starts] == ord("(")
        opening = starts[paren]
        closing = ends[paren] - 1
        j_at = np.where(paren, ends - 2, ends - 1)
        # Each expected position holds its byte, and the object holds no other such byte.
        for char, expected in ((b"(", opening), (b")", closing), (b"j", j_at)):
            if np.count_nonzero(seg == char[0]) != len(expected) or not np.all(seg[expected] == char[0]):
                raise _NotCanonical
        del opening, closing
        # The sign between real and imaginary parts follows a digit (an exponent's sign follows "e",
        # a leading sign the opening quote or parenthesis) and precedes a digit.
        signs = np.concatenate([_positions(seg == ord("+")), _positions(seg == ord("-"))])
        digit = _byte_set("digit")
        separators = signs[digit[seg[signs - 1]] & digit[seg[signs + 1]]]
        del signs
        owner = np.searchsorted(starts, separators, side="right") - 1
        if not np.array_equal(np.bincount(owner, minlength=n), paren.astype(np.int64)):
            raise _NotCanonical
        negative = np.zeros(n, dtype=bool)
        negative[owner] = seg[separators] == ord("-")
        # A real part written "-0", or an imaginary "-0j", must stay a negative zero (JSON reads -0 as 0).
        first = starts[owner]
        real_negative_zero = np.zeros(n, dtype=bool)
        real_negative_zero[owner] = (
            (separators - first == 3) & (seg[first + 1] == ord("-")) & (seg[first + 2] == ord("0"))
        )
        imag_negative_zero = (
            ~paren & (ends - starts == 3) & (seg[starts] == ord("-")) & (seg[starts + 1] == ord("0"))
        )

        separator_of = np.zeros(n, dtype=np.int32)
        separator_of[owner] = separators
        del owner, first, separators
        ends_entry = np.append(commas, len(seg) - 1)

        def blank(text: Any, rows: slice, offset: int) -> None:
            keys.blank(text, key_open[rows] - offset, rows)
            for positions in (colons[rows], value_open[rows], value_close[rows], j_at[rows]):
                text[positions - offset] = ord(" ")
            inner = paren[rows]
            text[starts[rows][inner] - offset] = ord(" ")
            text[ends[rows][inner] - 1 - offset] = ord(" ")
            text[separator_of[rows][inner] - offset] = ord(",")

        counts = np.where(paren, 2, 1)
        flat = _chunked_numbers(seg, key_open, ends_entry, counts, blank)
        at = np.cumsum(counts) - counts
        values = np.empty(n, dtype=np.complex128)
        values.real = np.where(paren, flat[at], 0.0)
        values.imag = np.where(paren, flat[np.minimum(at + 1, len(flat) - 1)], flat[at])
        values.imag[negative] = -values.imag[negative]
        values.real[real_negative_zero] = -0.0
        values.imag[imag_negative_zero] = -0.0
        return keys, values
    except _NotCanonical:
        return None

"""Envelope, base64 and gzip handling of job payloads, runcards and calibrations."""

from __future__ import annotations

import base64
import gzip
import json

import orjson
import pytest

from qiboconnection.errors import ResultDecodeError
from qiboconnection.serialization import (
    DEFAULT_MAX_BYTES,
    OverLimit,
    b64decode_any,
    decode_envelope,
    decode_runcard,
    decode_text,
    encode_envelope,
    encode_runcard,
    encode_text,
    gunzip_capped,
)

from .damage import damage


def released_style_envelope(payload: object) -> str:
    """What the released client sends: json.dumps, gzip, standard base64, json.dumps of the envelope."""
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode("utf-8"))).decode()
    return json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip"})


def test_envelope_has_the_wire_shape_and_the_released_payload_bytes() -> None:
    payload = ['OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];', "x"]
    text = encode_envelope(payload)
    outer = json.loads(text)
    assert list(outer) == ["data", "encoding", "compression"]
    assert outer["encoding"] == "utf-8"
    assert outer["compression"] == "gzip"
    assert text.startswith('{"data": "')
    inner = gzip.decompress(base64.b64decode(outer["data"]))
    assert inner == json.dumps(payload).encode()


def test_envelope_extra_keys_follow_the_three_standard_ones() -> None:
    text = encode_envelope({"a": 1}, init_params=[0.1], optimizer_params={"maxiter": 2})
    assert list(json.loads(text)) == ["data", "encoding", "compression", "init_params", "optimizer_params"]


@pytest.mark.parametrize(
    "payload", [["q1", "q2"], {"nested": {"x": [1, 2.5, None]}}, "a qprogram string", 42]
)
def test_round_trip(payload: object) -> None:
    assert decode_envelope(encode_envelope(payload)) == payload


def test_decodes_what_the_released_client_sends() -> None:
    assert decode_envelope(released_style_envelope({"k": "v"})) == {"k": "v"}


def test_accepts_url_safe_alphabet_and_missing_padding() -> None:
    raw = bytes(range(256))
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert b64decode_any(text) == raw


def test_legacy_plain_base64_json_result() -> None:
    legacy = base64.urlsafe_b64encode(json.dumps({"energy": -1.5}).encode()).decode()
    assert decode_envelope(legacy) == {"energy": -1.5}


def test_legacy_refused_when_not_allowed() -> None:
    legacy = base64.urlsafe_b64encode(b"[1]").decode()
    with pytest.raises(ResultDecodeError, match="expected a JSON object"):
        decode_envelope(legacy, allow_legacy=False, job_id=3)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            json.dumps({"data": "not base64!!", "encoding": "utf-8", "compression": "gzip"}),
            "not valid base64",
        ),
        (
            json.dumps(
                {"data": base64.b64encode(b"plain").decode(), "encoding": "utf-8", "compression": "gzip"}
            ),
            "not valid gzip",
        ),
        (
            json.dumps(
                {
                    "data": base64.b64encode(gzip.compress(b"{oops")).decode(),
                    "encoding": "utf-8",
                    "compression": "gzip",
                }
            ),
            "not valid JSON",
        ),
        (json.dumps({"data": "AAAA", "encoding": "utf-8", "compression": "zstd"}), "unknown compression"),
        ("%%% definitely not anything", "neither an envelope nor base64"),
    ],
)
def test_corrupt_payloads_name_the_job(text: str, reason: str) -> None:
    with pytest.raises(ResultDecodeError, match=reason) as caught:
        decode_envelope(text, job_id=8310)
    assert caught.value.job_id == 8310
    assert "job 8310" in str(caught.value)


def test_truncated_gzip_is_refused() -> None:
    blob = gzip.compress(b"x" * 10_000)[:-12]
    text = json.dumps({"data": base64.b64encode(blob).decode(), "encoding": "utf-8", "compression": "gzip"})
    with pytest.raises(ResultDecodeError, match="not valid gzip"):
        decode_envelope(text, job_id=1)


def test_decompression_bomb_is_refused_at_the_cap() -> None:
    bomb = gzip.compress(b"[" + b"0," * 5_000_000 + b"0]")
    assert len(bomb) < 100_000
    text = json.dumps({"data": base64.b64encode(bomb).decode(), "encoding": "utf-8", "compression": "gzip"})
    with pytest.raises(ResultDecodeError, match="over the 1000000 byte limit"):
        decode_envelope(text, max_bytes=1_000_000, job_id=5)
    # 5 million values: about 160 MB as Python objects by check_shape's estimate, within twice the cap.
    assert len(decode_envelope(text, max_bytes=81_000_000)) == 5_000_001
    with pytest.raises(ResultDecodeError, match="as Python objects"):
        decode_envelope(text, max_bytes=20_000_000)


def test_gunzip_capped_reads_concatenated_members_and_exact_cap() -> None:
    blob = gzip.compress(b"abc") + gzip.compress(b"def")
    assert gunzip_capped(blob, 6) == b"abcdef"
    with pytest.raises(ValueError, match="limit"):
        gunzip_capped(blob, 5)


def test_runcard_and_calibration_encodings() -> None:
    runcard = {"name": "galadriel", "gates": {"x": [1, 2]}, "ñ": "ü"}
    encoded = encode_runcard(runcard)
    assert json.loads(base64.urlsafe_b64decode(encoded)) == runcard
    assert decode_runcard(encoded) == runcard
    text = "serialized calibration ~~~ ???"
    assert base64.urlsafe_b64decode(encode_text(text)).decode() == text
    assert decode_text(encode_text(text)) == text
    with pytest.raises(ResultDecodeError):
        decode_runcard("@@@")
    assert orjson.loads(b64decode_any(encoded)) == runcard


def _envelope_of(blob: bytes) -> str:
    return json.dumps({"data": base64.b64encode(blob).decode(), "encoding": "utf-8", "compression": "gzip"})


def test_default_cap_is_the_settings_default_and_configurable() -> None:
    from qiboconnection.config import Settings

    assert DEFAULT_MAX_BYTES == Settings().max_result_bytes == Settings.from_env({}).max_result_bytes
    assert Settings.from_env({"QIBOCONNECTION_MAX_RESULT_BYTES": "1000"}).max_result_bytes == 1000


def test_bomb_whose_trailer_states_its_size_is_refused_without_inflating() -> None:
    blob = bytearray(gzip.compress(b"[" + b"0," * 1000 + b"0]"))
    blob[-4:] = (512 << 20).to_bytes(4, "little")
    # Inflating would fail on the length check; the refusal comes from the trailer alone.
    with pytest.raises(
        ResultDecodeError, match=r"over the 1000000 byte limit .*trailer says 536870912"
    ) as raised:
        decode_envelope(_envelope_of(bytes(blob)), max_bytes=1_000_000, job_id=8)
    assert "QIBOCONNECTION_MAX_RESULT_BYTES" in str(raised.value)
    assert raised.value.job_id == 8


def test_bomb_hiding_its_size_is_refused_at_the_cap() -> None:
    # The last member (empty) states a size of 0: only inflating finds the first one too large.
    blob = gzip.compress(b"[" + b"0," * 5_000_000 + b"0]") + gzip.compress(b"")
    with pytest.raises(ResultDecodeError, match="over the 1000000 byte limit") as raised:
        decode_envelope(_envelope_of(blob), max_bytes=1_000_000)
    assert "QIBOCONNECTION_MAX_RESULT_BYTES" in str(raised.value)
    with pytest.raises(OverLimit):
        gunzip_capped(blob, 10_000_002)
    assert len(gunzip_capped(blob, 10_000_003)) == 10_000_003


def test_payload_with_too_many_values_for_its_size_is_refused_before_parsing() -> None:
    from qiboconnection.serialization import SHAPE_FLOOR, check_shape

    nested = b"[" + b"[]," * 1_000_000 + b"[]]"  # 3 MB of JSON, about 64 MB as Python lists
    envelope = _envelope_of(gzip.compress(nested))
    with pytest.raises(
        ResultDecodeError, match=r"1000001 JSON values would take about 91 MiB .* 64 MiB"
    ) as raised:
        decode_envelope(envelope, max_bytes=4_000_000, job_id=2)
    assert "QIBOCONNECTION_MAX_RESULT_BYTES" in str(raised.value)
    assert len(decode_envelope(envelope, max_bytes=49_000_000)) == 1_000_001
    # Any payload whose estimate is within the floor passes, however small the cap.
    check_shape(b"[" + b"[]," * (SHAPE_FLOOR // 96 - 1) + b"[]]", max_bytes=1000)
    with pytest.raises(ResultDecodeError):
        check_shape(b"[" + b"[]," * (SHAPE_FLOOR // 96 + 1) + b"[]]", max_bytes=1000)


@pytest.mark.parametrize(
    "text",
    [
        " YWJj\n",  # surrounding whitespace
        b"YWJj",  # bytes
        "YW Jj",  # whitespace inside
        "YWJj=",  # bad padding
        "YW=j",  # padding inside
        "YWJjé",  # not ASCII
        "YW*j",  # outside both alphabets
    ],
)
def test_base64_reads_both_alphabets_and_refuses_the_rest(text: str | bytes) -> None:
    if text in (" YWJj\n", b"YWJj"):
        assert b64decode_any(text) == b"abc"
    else:
        with pytest.raises(ValueError):
            b64decode_any(text)


def test_base64_of_every_byte_in_either_alphabet_with_or_without_padding() -> None:
    raw = bytes(range(256)) * 3 + b"x"
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        for text in (encoded, encoded.rstrip(b"="), encoded.decode(), encoded.decode().rstrip("=")):
            assert b64decode_any(text) == raw


def test_gzip_is_read_with_zlib_where_isal_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from qiboconnection import serialization

    blob = gzip.compress(b"abc" * 100_000) + gzip.compress(b"def")
    with_isal = gunzip_capped(blob)
    monkeypatch.setitem(sys.modules, "isal", None)
    serialization._inflater.cache_clear()
    try:
        inflate, errors = serialization._inflater()
        assert inflate.__module__ in {"zlib", None} and errors == (__import__("zlib").error,)
        assert gunzip_capped(blob) == with_isal == b"abc" * 100_000 + b"def"
        with pytest.raises(ValueError, match="corrupt"):
            gunzip_capped(blob[:10] + bytes(64) + blob[74:])
    finally:
        serialization._inflater.cache_clear()


def test_a_trailer_stating_less_than_the_data_holds_still_stops_at_the_cap() -> None:
    blob = bytearray(gzip.compress(bytes(5_000_000)))
    blob[-4:] = (1000).to_bytes(4, "little")  # says 1000 bytes; inflates to 5 MB
    with pytest.raises(OverLimit):
        gunzip_capped(bytes(blob), 1_000_000)


def test_written_envelopes_are_read_as_the_json_parser_reads_them() -> None:
    """The envelope reader that finds ``data`` by its closing quote, on envelopes with up to three bytes
    changed, added or removed and on tails that name ``data`` again: it either declines (None) or reads
    exactly the other keys and the decoded ``data`` that the JSON parser and strict base64 give."""
    import random

    from qiboconnection.serialization import _written_envelope, loads

    chooser = random.Random(5)
    alphabet = ['"', "\\", "\x01", "-", "_", "=", " ", "}", ",", "A", "/", "+", "é", '"data": "QQ==", ']
    tails = [
        "",
        ', "data": "QUJD"',
        ', "d\\u0061ta": "QUJD"',
        ', "encoding": "utf-8", "encoding": "latin-1"',
        ', "init_params": [0.1, NaN]',
        ', "note": "data"',
    ]
    read = 0
    for trial in range(3000):
        payload = {"trial": trial, "values": [chooser.random() for _ in range(chooser.randint(0, 40))]}
        text = encode_envelope(payload)
        if trial % 4 == 0:
            text = text[:-1] + chooser.choice(tails) + "}"
        characters = list(text)
        damage(characters, chooser, alphabet)
        text = "".join(characters)
        written = _written_envelope(text)
        if written is None:
            continue
        raw, outer = written
        parsed = loads(text)
        assert isinstance(parsed, dict), text
        assert base64.b64decode(parsed.pop("data"), validate=True) == raw, text
        assert outer.pop("data") is None and outer == parsed, text
        read += 1
    assert read > 500  # many envelopes are read this way (damage to data is refused), and compared


def test_envelopes_in_other_forms_are_read_by_the_plain_path() -> None:
    payload = {"k": [1, 2]}
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    for text in [
        json.dumps({"encoding": "utf-8", "compression": "gzip", "data": data}),
        json.dumps({"data": data, "compression": "gzip"}, separators=(",", ":")),
        json.dumps({"data": data.rstrip("="), "compression": "gzip"}),
        json.dumps({"data": data.replace("+", "-").replace("/", "_"), "compression": "gzip"}),
        json.dumps({"data": data, "compression": "gzip"}, indent=2),
    ]:
        assert decode_envelope(text) == payload, text
    repeated = json.dumps({"data": "broken", "compression": "gzip"})[:-1] + f', "data": "{data}"}}'
    assert decode_envelope(repeated) == payload

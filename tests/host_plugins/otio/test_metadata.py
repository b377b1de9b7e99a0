"""with_metadata: OTIO objects with metadata made through OTIO's JSON reader hold exactly what setting
the metadata item by item holds; what the reader would not give back exactly is set item by item."""

from __future__ import annotations

import random
import struct

import opentimelineio as otio
import pytest

from host_plugins.otio import metadata
from host_plugins.otio.metadata import with_metadata


def set_one_by_one(schema: type, values: dict) -> otio.core.SerializableObjectWithMetadata:
    made = schema()
    for key, value in values.items():
        made.metadata[key] = value
    return made


PROVENANCE = {
    "job_id": "job00001", "query": "blur the faces", "explanation": None, "seed": 0, "qc_passed": True,
    "spec": {"media": {"path": "/media/a.mov", "range": {"start": "3", "end": "90"}, "rate": {"num": 30000}},
             "render": {"guidance_scale": 5.0, "conditioning_scale": 0.800000011920929}},
    "source": {"record": [12, 87], "frames": (3, 78), "rate": "30000/1001"},
    "plan": {"operations": [{"id": "op1", "targets": [{"id": 3, "frames": [{"start": 3, "end": 78}]}]}]},
    "limits": [2**63 - 1, -(2**63), -0.0, 1e22, 1e-22, 123456789012345.0],
    "text": "é ✓ 𝄞 \u0000 \"quoted\"\n",
}  # fmt: skip


def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts given to OTIO's JSON reader from now on."""
    texts: list[str] = []
    real = otio.core.deserialize_json_from_string
    monkeypatch.setattr(
        otio.core, "deserialize_json_from_string", lambda text: texts.append(text) or real(text)
    )
    return texts


@pytest.mark.parametrize("schema", [otio.schema.Clip, otio.schema.Marker, otio.schema.Track])
def test_the_same_object_as_setting_the_metadata(schema: type, monkeypatch: pytest.MonkeyPatch) -> None:
    read = reads(monkeypatch)
    made = with_metadata(schema, {"river": PROVENANCE, "other": [1, "two"]})
    assert type(made) is schema and len(read) == 1, "made by OTIO's reader"
    expected = set_one_by_one(schema, {"river": PROVENANCE, "other": [1, "two"]})
    assert made.to_json_string() == expected.to_json_string()


def test_the_input_is_copied_not_kept() -> None:
    values = {"river": {"a": [1, 2]}}
    made = with_metadata(otio.schema.Clip, values)
    values["river"]["a"].append(3)
    assert list(made.metadata["river"]["a"]) == [1, 2]


@pytest.mark.parametrize(
    "odd",
    [{1: "an int key"}, 2**63, float("nan"), float("inf"), 0.1 + 0.2, 1e-30, 2.0**53 + 2, "\ud800"],
    ids=[
        "int key",
        "int past int64",
        "nan",
        "inf",
        "17 digits",
        "exponent past 22",
        "past 2**53",
        "lone surrogate",
    ],
)
def test_what_the_reader_would_change_is_set_one_by_one(odd: object, monkeypatch: pytest.MonkeyPatch) -> None:
    read = reads(monkeypatch)
    try:
        expected = set_one_by_one(otio.schema.Clip, {"river": {"value": [odd]}}).to_json_string()
    except (ValueError, TypeError, RuntimeError) as exc:  # OTIO refuses it: so does with_metadata, alike
        with pytest.raises(type(exc)):
            with_metadata(otio.schema.Clip, {"river": {"value": [odd]}})
    else:
        assert with_metadata(otio.schema.Clip, {"river": {"value": [odd]}}).to_json_string() == expected
    assert read == []


def test_the_float_rule_holds_for_otios_reader() -> None:
    """Every float exact_json_float admits comes back from OTIO's JSON reader bit for bit (it does not for
    floats in general: about a quarter of random doubles come back an ulp or more off)."""
    rng = random.Random(3)
    floats = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20000)]
    floats += [round(rng.uniform(-1e6, 1e6), rng.randint(0, 12)) for _ in range(20000)]
    floats += [struct.unpack("f", struct.pack("f", rng.uniform(-100, 100)))[0] for _ in range(20000)]
    admitted = [x for x in floats if metadata.exact_json_float(x)]
    assert len(admitted) > 30000
    made = with_metadata(otio.schema.Clip, {"floats": admitted})
    assert [struct.pack("d", x) for x in made.metadata["floats"]] == [struct.pack("d", x) for x in admitted]

"""json_body.loads decodes exactly what json.loads decodes, to the same values, and rejects the rest alike."""
from __future__ import annotations

import json
import math

import pytest

from service.intake import json_body
from tests.conftest import compact, shopify_order

SAME_AS_JSON = [
    compact(shopify_order()),
    b'{"id": 7012345678901, "total_price": "35.00", "amount": 0.1, "tiny": 2.5e-308, "huge": 1e400}',
    b'{"a": 1, "a": 2}',  # the last duplicate wins in both
    b"18446744073709551615",  # the largest unsigned 64-bit integer
    b"18446744073709551616",  # one more: orjson would give a float, json an exact int
    b"-9223372036854775809",  # 19 digits, below the smallest signed 64-bit integer
    b'{"tracking_number": "9400111899223344556677"}',  # a long digit run inside a string
    b'"\\ud800"',  # a lone surrogate: json accepts it, orjson does not
    '{"name": "Zoë"}'.encode("utf-16"),  # json detects UTF-16; orjson reads UTF-8 only
    b'\xef\xbb\xbf{"bom": true}',
    b"[NaN, Infinity, -Infinity]",
    '{"city": "Zürich", "emoji": "\U0001F600"}'.encode(),
    b" [1, 2, 3] ",
]


@pytest.mark.parametrize("raw", SAME_AS_JSON, ids=range(len(SAME_AS_JSON)))
def test_decodes_to_what_json_decodes(raw):
    got, expected = json_body.loads(raw), json.loads(raw)
    assert json.dumps(got) == json.dumps(expected)  # NaN-safe equality, and the types must match too
    assert type(got) is type(expected)


def test_big_integers_stay_exact():
    assert json_body.loads(b'{"id": 123456789012345678901234567890}') == {"id": 123456789012345678901234567890}
    assert math.isinf(json_body.loads(b"1e400"))


@pytest.mark.parametrize("raw, error", [
    (b'{"id": 1, "name": ', json.JSONDecodeError),
    (b"", json.JSONDecodeError),
    (b"\xff\xfe\xfd", UnicodeDecodeError),
    (b"[" * 5000 + b"]" * 5000, RecursionError),
    (b'{"a": 1,}', json.JSONDecodeError),
])
def test_rejects_what_json_rejects_with_jsons_errors(raw, error):
    with pytest.raises(error):
        json.loads(raw)
    with pytest.raises(error):
        json_body.loads(raw)

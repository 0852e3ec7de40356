"""Seldon request bodies for each data format, and the URLs they are sent to."""

from __future__ import annotations

import pytest

from fadi_seldon.model import payloads
from fadi_seldon.model.payloads import PayloadError


def test_ndarray_with_names():
    assert payloads.ndarray("[[5.1, 3.5], [1, 2]]", ["a", "b"]) == {
        "data": {"names": ["a", "b"], "ndarray": [[5.1, 3.5], [1, 2]]}
    }
    assert payloads.ndarray('[["text", 1]]') == {"data": {"ndarray": [["text", 1]]}}


def test_tensor_from_nested_array_and_explicit_shape():
    expected = {"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4.5]}}}
    assert payloads.tensor("[[1, 2], [3, 4.5]]") == expected
    assert payloads.tensor('{"shape": [2, 2], "values": [1, 2, 3, 4.5]}') == expected
    assert payloads.tensor("[1, 2, 3]", ["x"])["data"] == {
        "names": ["x"],
        "tensor": {"shape": [3], "values": [1, 2, 3]},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[1, 2], [3]]", "rectangular"),
        ('[["a"]]', "expected numbers"),
        ('{"shape": [2, 2], "values": [1]}', "holds 4 values, got 1"),
        ('{"shape": [2]}', '"shape" and "values"'),
        ('{"shape": [-1], "values": []}', "non-negative"),
        ('{"shape": [1], "values": ["x"]}', "flat list of numbers"),
        ("7", "nested array"),
        ("[true]", "expected numbers"),
        ("[1,", "not valid JSON"),
    ],
)
def test_tensor_refusals(text, message):
    with pytest.raises(PayloadError, match=message):
        payloads.tensor(text)


def test_other_formats():
    assert payloads.json_data('{"text": "hi", "n": 3}') == {"jsonData": {"text": "hi", "n": 3}}
    assert payloads.str_data("hello seldon") == {"strData": "hello seldon"}
    assert payloads.bin_data(b"hello") == {"binData": "aGVsbG8="}


def test_ndarray_refusals():
    with pytest.raises(PayloadError, match="expected a JSON array"):
        payloads.ndarray('{"a": 1}')
    with pytest.raises(PayloadError, match="--ndarray: not valid JSON"):
        payloads.ndarray("[[1, 2]")


def test_whole_message():
    assert payloads.message('{"meta": {"puid": "x"}, "data": {"ndarray": [[1]]}}')["meta"] == {"puid": "x"}
    with pytest.raises(PayloadError, match="found data, strData"):
        payloads.message('{"data": {}, "strData": "x"}')
    with pytest.raises(PayloadError, match="found none"):
        payloads.message('{"foo": 1}')
    with pytest.raises(PayloadError, match="JSON object"):
        payloads.message("[1]")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000/api/v1.0/predictions"),
        ("127.0.0.1:9000/", "http://127.0.0.1:9000/api/v1.0/predictions"),
        ("http://gw/seldon/ns/iris", "http://gw/seldon/ns/iris/api/v1.0/predictions"),
        ("http://h:9000/api/v1.0/predictions", "http://h:9000/api/v1.0/predictions"),
        ("https://h/seldon/ns/m/api/v0.1/predictions?x=1", "https://h/seldon/ns/m/api/v0.1/predictions?x=1"),
        ("http://h:9000/predict", "http://h:9000/predict"),
    ],
)
def test_endpoint(url, expected):
    assert payloads.endpoint(url) == expected


def test_endpoint_refuses_other_schemes():
    with pytest.raises(PayloadError, match="http"):
        payloads.endpoint("ftp://h/x")

"""Kubernetes resource quantities (`500m`, `1Gi`, `2`): the grammar of apimachinery's ParseQuantity.

One implementation for everything that takes a quantity: `new` (--requests/--limits, graph spec
files) and the validator (`schema-quantity`). The grammar (k8s.io/apimachinery/pkg/api/resource):

    <quantity> ::= <signedNumber><suffix>
    <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
    binarySI: Ki Mi Gi Ti Pi Ei;  decimalSI: n u m "" k M G T P E;  decimalExponent: e|E <signed integer>
    <number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>

Go trims surrounding spaces when it decodes a quantity from JSON, so they are allowed here too. A
negative quantity parses (the API server refuses it later, for resources); callers that build
manifests refuse it themselves (`negative_ok=False`).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([numkMGTPE]|[KMGTPE]i|[eE][+-]?\d+)?$")
_SCALE = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1)}
_SCALE |= {s: Fraction(1000**k) for k, s in enumerate("kMGTPE", start=1)}
_SCALE |= {s + "i": Fraction(1024**k) for k, s in enumerate("KMGTPE", start=1)}
# what the operator's webhook answers (Quantity.UnmarshalJSON's ErrFormatWrong), quoted in messages
UPSTREAM_MESSAGE = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
EXAMPLES = "e.g. 500m or 2 for cpu, 512Mi or 1Gi for memory"
# suffixes people write that Kubernetes spells otherwise
_SUFFIX_FIXES = {
    "K": ("k", "Ki"),
    "KB": ("k", "Ki"),
    "KiB": ("Ki",),
    "MB": ("M", "Mi"),
    "MiB": ("Mi",),
    "mi": ("Mi",),
    "GB": ("G", "Gi"),
    "GiB": ("Gi",),
    "gi": ("Gi",),
    "TB": ("T", "Ti"),
    "TiB": ("Ti",),
}


def is_quantity(value: Any, negative_ok: bool = True) -> bool:
    """An integer, or a string in the quantity grammar (booleans and floats are not quantities)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return negative_ok or value >= 0
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(QUANTITY.match(text)) and (negative_ok or not text.startswith("-"))


def amount(value: Any) -> Fraction | None:
    """The exact value of a quantity, for comparing two (requests against limits); None when it
    does not parse (schema-quantity says so)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    match = QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return Fraction(number) * Fraction(10) ** int(suffix[1:])
    return Fraction(number) * _SCALE[suffix]


def hint(value: Any) -> str:
    """What to write instead of a string that is almost a quantity ("1GB" -> "1G or 1Gi"), or ""."""
    if not isinstance(value, str):
        return ""
    match = re.match(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*([A-Za-z]+)\s*$", value)
    if not match or match.group(2) not in _SUFFIX_FIXES:
        return ""
    number, suffix = match.groups()
    return " or ".join(number + s for s in _SUFFIX_FIXES[suffix])

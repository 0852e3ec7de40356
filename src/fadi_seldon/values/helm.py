"""Values as Helm combines them: several `-f` files, then the user's values over a chart's defaults.

One implementation for every reader of a user's values file that must see what Helm would render
(`fadi-seldon images`, the configured predictor servers of `validate --values`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def merge_files(maps: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Several `-f` files as Helm merges them: later maps win, nested maps merge, nulls are kept."""
    out: dict[str, Any] = {}
    for data in maps:
        out = _merge(out, data)
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def coalesce(user: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """User values over the chart's (Helm's coalesce): a null removes the default, maps merge,
    otherwise the user's value wins."""
    out = {k: v for k, v in user.items() if v is not None}
    for key, default in defaults.items():
        if key not in user:
            out[key] = default
        elif isinstance(default, dict) and isinstance(user[key], dict):
            out[key] = coalesce(user[key], default)
    return out

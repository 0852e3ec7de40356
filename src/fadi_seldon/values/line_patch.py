"""Carry a YAML edit over to the original text without the re-layout a round trip brings.

`baseline` is a re-dump of `original` (same data, possibly other indentation and comment
alignment); `edited` is the re-dump after an edit. The difference baseline -> edited is the edit;
the difference original -> baseline is only layout. `carry_over` applies the first to `original`,
so the lines the edit did not touch keep the user's layout byte for byte.
"""

from __future__ import annotations

import difflib


class _Anchors:
    """Baseline lines that also stand, unchanged, in the original: where a change can be pinned."""

    def __init__(self, base: list[str], orig: list[str]) -> None:
        self.base_len, self.orig_len = len(base), len(orig)
        self.to_orig: dict[int, int] = {}
        for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, base, orig, autojunk=False).get_opcodes():
            if tag == "equal":
                for k in range(i2 - i1):
                    self.to_orig[i1 + k] = j1 + k

    def after(self, i: int) -> int:
        """Original index just after baseline line i - 1 (an anchor), or 0."""
        return self.to_orig[i - 1] + 1 if i > 0 else 0

    def before(self, i: int) -> int:
        """Original index of baseline line i (an anchor), or the end."""
        return self.to_orig[i] if i < self.base_len else self.orig_len

    def start(self, tag: str, i1: int) -> tuple[int, int]:
        """(baseline start, original start) of a change, widened back to an anchor when needed."""
        if i1 in self.to_orig and tag != "insert":
            return i1, self.to_orig[i1]
        b_s = i1
        while b_s > 0 and (b_s - 1) not in self.to_orig:
            b_s -= 1
        return b_s, self.after(b_s)

    def end(self, tag: str, i2: int) -> tuple[int, int]:
        """(baseline end, original end) of a change, widened forward to an anchor when needed."""
        if (i2 - 1) in self.to_orig and tag != "insert":
            return i2, self.to_orig[i2 - 1] + 1
        b_e = i2
        while b_e < self.base_len and b_e not in self.to_orig:
            b_e += 1
        return b_e, self.before(b_e)

    def span(self, tag: str, i1: int, i2: int) -> tuple[int, int, int, int]:
        """(baseline start, end, original start, end) that a change replaces."""
        if tag == "insert" and (i2 == self.base_len or i2 in self.to_orig):
            return i1, i2, self.before(i2), self.before(i2)
        if tag == "insert" and (i1 == 0 or i1 - 1 in self.to_orig):
            return i1, i2, self.after(i1), self.after(i1)
        b_s, o_s = self.start(tag, i1)
        b_e, o_e = self.end(tag, i2)
        return b_s, b_e, o_s, o_e


def _hunks(base: list[str], new: list[str], anchors: _Anchors) -> list[list[int]]:
    """[base start, base end, orig start, orig end, new start, new end] per change, merged when widened."""
    hunks: list[list[int]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, base, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        b_s, b_e, o_s, o_e = anchors.span(tag, i1, i2)
        if hunks and b_s < hunks[-1][1]:  # widened into the previous change: one hunk
            last = hunks[-1]
            last[1], last[3] = max(last[1], b_e), max(last[3], o_e)
            last[5] = j2 + (last[1] - i2)  # lines after this change up to the hunk's end are unchanged
        else:
            hunks.append([b_s, b_e, o_s, o_e, j1 - (i1 - b_s), j2 + (b_e - i2)])
    return hunks


def carry_over(original: str, baseline: str, edited: str) -> str:
    """Apply the baseline -> edited line changes to `original`.

    Lines `original` shares with `baseline` are anchors. A change whose edges sit on anchors maps
    exactly onto the original's lines; one that touches re-laid-out lines is widened to the nearest
    anchors, so that region (and only it) takes the re-dump's layout.
    """
    orig = original.splitlines(keepends=True)
    base = baseline.splitlines(keepends=True)
    new = edited.splitlines(keepends=True)
    out: list[str] = []
    cursor = 0  # next original line not yet copied
    for _, _, o_s, o_e, n_s, n_e in _hunks(base, new, _Anchors(base, orig)):
        o_s = max(o_s, cursor)
        out.extend(orig[cursor:o_s])
        out.extend(new[n_s:n_e])
        cursor = max(o_e, o_s)
    out.extend(orig[cursor:])
    return "".join(out)

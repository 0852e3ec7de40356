"""Carry a YAML edit over to the original text without the re-layout a round trip brings.

`baseline` is a re-dump of `original` (same data, possibly other indentation and comment
alignment); `edited` is the re-dump after an edit. The difference baseline -> edited is the edit;
the difference original -> baseline is only layout. `carry_over` applies the first to `original`,
so the lines the edit did not touch keep the user's layout byte for byte.
"""

from __future__ import annotations

import difflib


def carry_over(original: str, baseline: str, edited: str) -> str:
    """Apply the baseline -> edited line changes to `original`.

    Lines `original` shares with `baseline` are anchors. A change whose edges sit on anchors maps
    exactly onto the original's lines; one that touches re-laid-out lines is widened to the nearest
    anchors, so that region (and only it) takes the re-dump's layout.
    """
    orig = original.splitlines(keepends=True)
    base = baseline.splitlines(keepends=True)
    new = edited.splitlines(keepends=True)
    to_orig: dict[int, int] = {}
    for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, base, orig, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                to_orig[i1 + k] = j1 + k

    def after(i: int) -> int:  # original index just after baseline line i - 1 (an anchor), or 0
        return to_orig[i - 1] + 1 if i > 0 else 0

    def before(i: int) -> int:  # original index of baseline line i (an anchor), or the end
        return to_orig[i] if i < len(base) else len(orig)

    hunks: list[list[int]] = []  # [base start, base end, orig start, orig end, new start, new end]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, base, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert" and (i2 == len(base) or i2 in to_orig):
            b_s, b_e, o_s, o_e = i1, i2, before(i2), before(i2)
        elif tag == "insert" and (i1 == 0 or i1 - 1 in to_orig):
            b_s, b_e, o_s, o_e = i1, i2, after(i1), after(i1)
        else:
            b_s = i1
            if i1 in to_orig and tag != "insert":
                o_s = to_orig[i1]
            else:
                while b_s > 0 and (b_s - 1) not in to_orig:
                    b_s -= 1
                o_s = after(b_s)
            b_e = i2
            if (i2 - 1) in to_orig and tag != "insert":
                o_e = to_orig[i2 - 1] + 1
            else:
                while b_e < len(base) and b_e not in to_orig:
                    b_e += 1
                o_e = before(b_e)
        if hunks and b_s < hunks[-1][1]:  # widened into the previous change: one hunk
            last = hunks[-1]
            last[1], last[3] = max(last[1], b_e), max(last[3], o_e)
            last[5] = j2 + (last[1] - i2)  # lines after this change up to the hunk's end are unchanged
        else:
            hunks.append([b_s, b_e, o_s, o_e, j1 - (i1 - b_s), j2 + (b_e - i2)])
    out: list[str] = []
    cursor = 0  # next original line not yet copied
    for _, _, o_s, o_e, n_s, n_e in hunks:
        o_s = max(o_s, cursor)
        out.extend(orig[cursor:o_s])
        out.extend(new[n_s:n_e])
        cursor = max(o_e, o_s)
    out.extend(orig[cursor:])
    return "".join(out)

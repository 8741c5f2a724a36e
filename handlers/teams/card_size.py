"""Keep every Teams card under the size older Teams clients accept.

Teams refuses an activity over about 100 KB with 413 `MessageSizeTooBig`, and older clients fail
from 28–40 KB, so every card npsbot sends stays under `LIMIT` bytes of JSON. Renderers that know
their content trim it meaningfully first (`show N` keeps the newest answers and trail entries and
says how many earlier ones it left out); `fit()` is the safety net for every card: it replaces
embedded images by their text, then shortens the longest texts, then drops trailing elements,
saying so on the card.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

LIMIT = 28_000
SHORTENED = "… (shortened to fit Teams' card size limit; the full text is in `show N` elsewhere)"


def size(value: Any) -> int:
    """Bytes of JSON, as the activity carries it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def keep_newest(rows: list[dict], budget: int, summary: Callable[[int], dict]) -> list[dict]:
    """The newest rows (the list's end) that fit in `budget` bytes, oldest first, preceded by
    `summary(left_out)` when any were left out."""
    kept: list[dict] = []
    used = size(summary(len(rows)))
    for row in reversed(rows):
        cost = size(row) + 1
        if used + cost > budget:
            break
        kept.append(row)
        used += cost
    kept.reverse()
    left_out = len(rows) - len(kept)
    return ([summary(left_out)] if left_out else []) + kept


def _texts(node: Any) -> Iterator[tuple[dict, str]]:
    """Every (element, key) holding display text, anywhere in the card."""
    if isinstance(node, dict):
        for key in ("text", "altText", "placeholder", "value", "title"):
            if isinstance(node.get(key), str) and node.get("type") not in ("Input.ChoiceSet",):
                yield node, key
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def _drop_images(node: Any) -> bool:
    """Replace embedded (data: URI) images by their alt text; True when any was replaced."""
    changed = False
    if isinstance(node, dict):
        for value in node.values():
            changed |= _drop_images(value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            embedded = isinstance(value, dict) and str(value.get("url", "")).startswith("data:")
            if embedded and value.get("type") == "Image":
                node[i] = {"type": "TextBlock", "text": value.get("altText") or "(chart)", "wrap": True,
                           "isSubtle": True}
                changed = True
            else:
                changed |= _drop_images(value)
    return changed


def fit(card: dict, limit: int = LIMIT) -> dict:
    """`card` itself when it fits in `limit` bytes of JSON, else a copy made to fit."""
    if size(card) <= limit:
        return card
    out = copy.deepcopy(card)
    if _drop_images(out) and size(out) <= limit:
        return out
    # Shorten the longest texts first, halving them until the card fits or they are short.
    while size(out) > limit:
        longest = max(_texts(out), key=lambda hit: len(hit[0][hit[1]]), default=None)
        if longest is None or len(longest[0][longest[1]]) <= 200:
            break
        element, key = longest
        element[key] = element[key][: len(element[key]) // 2] + "…"
    body = out.get("body") or []
    while size(out) > limit and len(body) > 1:
        body.pop()
    if out is not card and body and size(out) <= limit - 400:
        body.append({"type": "TextBlock", "text": SHORTENED, "wrap": True, "isSubtle": True, "size": "Small"})
    return out

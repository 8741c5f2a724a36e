"""Counted nouns and signed changes as people write them: "1 response", "2 responses", "0"."""

from __future__ import annotations

# Nouns whose plural is not noun + "s".
_PLURALS = {"reply": "replies", "company": "companies"}


def counted(n: int, noun: str, *, thousands: bool = False) -> str:
    """`counted(1, "response")` → "1 response"; `counted(1200, "response", thousands=True)` → "1,200 responses"."""
    number = f"{n:,}" if thousands else str(n)
    return f"{number} {noun if n == 1 else _PLURALS.get(noun, noun + 's')}"


def signed_change(delta: float) -> str:
    """A rounded change with its sign, never "-0" or "+0": `+4`, `-12`, `0`."""
    rounded = round(delta)
    return f"+{rounded}" if rounded > 0 else str(rounded)

"""How the app writes counts and numbers: the words every panel, dialog and status message shares."""
from __future__ import annotations


def fmt_count(n: float) -> str:
    """1234567 → "1 234 567" (narrow no-break spaces between thousands)."""
    return f"{int(n):,}".replace(",", "\u202f")


def plural(n: int, noun: str) -> str:
    """plural(1, "image") → "1 image", plural(3, "image") → "3 images"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

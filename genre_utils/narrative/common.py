"""Small wording helpers shared by the sentence modules (names, percentages, counts)."""

from __future__ import annotations

from ..stats import percent

__all__ = ["join_names", "counted", "percent", "NUMBER_WORDS"]


def join_names(names, conjunction: str = "and") -> str:
    """``['a'] -> 'a'``, ``['a', 'b'] -> 'a and b'``, ``['a', 'b', 'c'] -> 'a, b and c'`` (``conjunction='or'``:
    ``'a, b or c'``)."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``counted(1, 'ambiguous one') -> '1 ambiguous one'``, ``counted(3, 'file') -> '3 files'``."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


#: Small counts as words, for sentences such as "All three tracks ...".
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}

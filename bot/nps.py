"""NPS maths: classification, score, margin of error, and whether a change is real.

NPS = %promoters - %detractors, from -100 to +100. The margin of error at 95% confidence is
1.96 * sqrt((p + d - (p - d)^2) / n) * 100, with p and d the promoter and detractor shares: the
standard error of a difference of two proportions of one multinomial sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from storage.models import Category

Z_95 = 1.96
MIN_RESPONSES = 30


def classify(score: int) -> Category:
    """0-6 detractor, 7-8 passive, 9-10 promoter."""
    if not 0 <= score <= 10:
        raise ValueError(f"score must be 0-10, not {score}")
    if score <= 6:
        return Category.DETRACTOR
    if score <= 8:
        return Category.PASSIVE
    return Category.PROMOTER


@dataclass(frozen=True)
class NpsSummary:
    """Counts for one period or segment, and the numbers derived from them."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @classmethod
    def of_scores(cls, scores: list[int]) -> NpsSummary:
        cats = [classify(s) for s in scores]
        return cls(
            promoters=cats.count(Category.PROMOTER),
            passives=cats.count(Category.PASSIVE),
            detractors=cats.count(Category.DETRACTOR),
        )

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        if self.n == 0:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.n

    @property
    def variance(self) -> float | None:
        """Variance of the NPS estimate, in NPS points squared."""
        if self.n == 0:
            return None
        p, d = self.promoters / self.n, self.detractors / self.n
        return max(p + d - (p - d) ** 2, 0.0) / self.n * 100.0**2

    @property
    def margin(self) -> float | None:
        """Half-width of the 95% confidence interval, in NPS points; None under 30 responses.

        The normal approximation behind it fails on small samples: one detractor would read
        "-100 ±0". Under 30 responses the number is flagged as insufficient data instead.
        """
        var = self.variance
        return None if var is None or self.insufficient else Z_95 * math.sqrt(var)

    @property
    def insufficient(self) -> bool:
        """Under 30 responses the number is shown but flagged."""
        return self.n < MIN_RESPONSES

    def __add__(self, other: NpsSummary) -> NpsSummary:
        return NpsSummary(
            self.promoters + other.promoters,
            self.passives + other.passives,
            self.detractors + other.detractors,
        )


@dataclass(frozen=True)
class Change:
    """The difference between two periods and whether it is unlikely to be noise."""

    delta: float | None
    margin: float | None
    significant: bool


def compare(current: NpsSummary, previous: NpsSummary) -> Change:
    """Two-sample z-test on the NPS difference at 95%; no verdict under 30 responses a side."""
    if current.nps is None or previous.nps is None:
        return Change(delta=None, margin=None, significant=False)
    delta = current.nps - previous.nps
    margin = Z_95 * math.sqrt((current.variance or 0.0) + (previous.variance or 0.0))
    significant = (
        not current.insufficient and not previous.insufficient and abs(delta) > margin
    )
    return Change(delta=delta, margin=margin, significant=significant)


def format_nps(value: float | None) -> str:
    """Render an NPS as a signed whole number (`+12`, `-5`, `0`), or an em dash when unknown."""
    if value is None:
        return "—"
    rounded = round(value)
    return f"+{rounded}" if rounded > 0 else str(rounded)

"""The statistics behind conformance figures: a Wilson score interval for a refusal rate, and
two tests for whether two runs' rates differ (two-proportion z-test, Fisher's exact test), and
Holm's adjustment for a family of such tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _scipy

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class Comparison:
    """A difference between two proportions (p1 - p2) and how surprising it would be if the
    underlying rates were equal."""

    statistic: float | None  # z for the z-test, the odds ratio for Fisher's test
    p_value: float
    difference: float
    method: str = ""  # "z" or "fisher"


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")


def wilson_interval(successes: int, n: int, *, z: float = Z_95) -> Interval | None:
    """The Wilson score interval for successes/n (95 % by default); None when n is 0.

    Unlike the normal approximation it stays within [0, 1], is never empty at 0 or n, and
    holds up for small n — which clause-level evidence often is (Wilson 1927; Brown, Cai &
    DasGupta 2001 recommend it for n < 40).
    """
    _check_counts(successes, n)
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # Clamp rounding noise, and keep p̂ inside at the ends, where the bound is p̂ exactly.
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return Interval(low, high)


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> Comparison:
    """Two-sided z-test with the pooled standard error, for large samples. When both runs are
    all-refusal or all-compliance there is no variance and no evidence of a difference:
    p = 1."""
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one observation")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return Comparison(statistic=None, p_value=1.0, difference=p1 - p2, method="z")
    z = (p1 - p2) / se
    p_value = 2 * _scipy.norm.sf(abs(z))
    return Comparison(statistic=z, p_value=min(1.0, float(p_value)), difference=p1 - p2, method="z")


def fisher_exact_test(x1: int, n1: int, x2: int, n2: int) -> Comparison:
    """Two-sided Fisher's exact test on the 2x2 table [[x1, n1-x1], [x2, n2-x2]] — exact for
    any sample size, so the one to use when counts are small."""
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one observation")
    result = _scipy.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="two-sided")
    odds = float(result.statistic)
    return Comparison(
        statistic=None if math.isnan(odds) else odds,
        p_value=min(1.0, float(result.pvalue)),
        difference=x1 / n1 - x2 / n2,
        method="fisher",
    )


def compare_proportions(x1: int, n1: int, x2: int, n2: int) -> Comparison:
    """The test a comparison page should show: Fisher's exact test while any expected cell
    count is under 5 (where the z-test's normal approximation is poor), the z-test otherwise."""
    total = n1 + n2
    successes = x1 + x2
    expected = (
        [
            n1 * successes / total,
            n1 * (total - successes) / total,
            n2 * successes / total,
            n2 * (total - successes) / total,
        ]
        if total
        else [0]
    )
    if min(expected) < 5:
        return fisher_exact_test(x1, n1, x2, n2)
    return two_proportion_z_test(x1, n1, x2, n2)


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979) of a family of p-values, in their given order:
    with the k values sorted ascending p(1) ≤ … ≤ p(k), the adjusted p(i) is
    max over j ≤ i of min(1, (k - j + 1) · p(j)). Rejecting where the adjusted value is below alpha
    keeps the chance of any false alarm in the family at most alpha, whatever the dependence
    between the tests, and rejects at least what Bonferroni's alpha/k would."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    k = len(p_values)
    adjusted = [0.0] * k
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted

"""Wilson intervals and the two-proportion tests, against known values and as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from audits.stats import (
    compare_proportions,
    fisher_exact_test,
    holm_adjust,
    two_proportion_z_test,
    wilson_interval,
)


@st.composite
def counts(draw, max_n=5000):
    n = draw(st.integers(min_value=1, max_value=max_n))
    return draw(st.integers(min_value=0, max_value=n)), n


@given(counts())
def test_the_interval_contains_the_observed_rate_and_stays_in_0_1(xn):
    x, n = xn
    interval = wilson_interval(x, n)

    assert 0.0 <= interval.low <= x / n <= interval.high <= 1.0
    assert x / n in interval


@given(st.floats(min_value=0, max_value=1), st.integers(min_value=1, max_value=2000))
def test_the_interval_narrows_as_n_grows(p, n):
    """At the same observed rate, four times the data gives a narrower interval."""
    x = round(p * n)
    small, large = wilson_interval(x, n), wilson_interval(4 * x, 4 * n)

    assert large.width < small.width


@given(counts(max_n=500))
def test_the_interval_is_symmetric_under_relabelling(xn):
    x, n = xn
    interval, mirror = wilson_interval(x, n), wilson_interval(n - x, n)

    assert interval.low == pytest.approx(1 - mirror.high, abs=1e-12)
    assert interval.high == pytest.approx(1 - mirror.low, abs=1e-12)


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Reference values: Newcombe (1998), Statistics in Medicine 17, table I (Wilson, no
        # continuity correction): 81/263, 15/148, 0/20 and 1/29.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_the_interval_matches_published_values(x, n, low, high):
    interval = wilson_interval(x, n)

    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_there_is_no_interval_without_data():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(3, 2)


def test_the_z_test_matches_its_formula():
    result = two_proportion_z_test(30, 100, 45, 100)
    pooled = 75 / 200
    z = (0.30 - 0.45) / math.sqrt(pooled * (1 - pooled) * (2 / 100))

    assert result.statistic == pytest.approx(z)
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)))
    assert result.difference == pytest.approx(-0.15)


def test_the_z_test_without_variance_finds_no_difference():
    assert two_proportion_z_test(10, 10, 5, 5).p_value == 1.0


def test_fisher_matches_scipy():
    result = fisher_exact_test(1, 10, 7, 10)
    expected = scipy_stats.fisher_exact([[1, 9], [7, 3]])

    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.statistic == pytest.approx(expected.statistic)


@given(counts(max_n=60), counts(max_n=60))
def test_p_values_are_probabilities_and_symmetric(a, b):
    (x1, n1), (x2, n2) = a, b
    for test in (two_proportion_z_test, fisher_exact_test):
        forward, backward = test(x1, n1, x2, n2), test(x2, n2, x1, n1)
        assert 0.0 <= forward.p_value <= 1.0
        assert forward.p_value == pytest.approx(backward.p_value, rel=1e-9, abs=1e-12)
        assert forward.difference == pytest.approx(-backward.difference)


def test_the_comparison_uses_fisher_for_small_counts_and_z_for_large():
    small = compare_proportions(1, 8, 6, 8)
    large = compare_proportions(300, 1000, 450, 1000)

    assert small.p_value == pytest.approx(fisher_exact_test(1, 8, 6, 8).p_value)
    assert large.p_value == pytest.approx(two_proportion_z_test(300, 1000, 450, 1000).p_value)


def test_the_tests_need_observations_on_both_sides():
    with pytest.raises(ValueError, match="at least one observation"):
        two_proportion_z_test(0, 0, 1, 2)
    with pytest.raises(ValueError, match="at least one observation"):
        fisher_exact_test(1, 2, 0, 0)


# --- Holm's adjustment ----------------------------------------------------------------------------

p_values = st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=12)


@given(p_values)
def test_holm_never_lowers_a_p_value_and_stays_a_probability(values):
    adjusted = holm_adjust(values)
    assert len(adjusted) == len(values)
    for raw, adj in zip(values, adjusted, strict=True):
        assert raw <= adj <= 1.0


@given(p_values)
def test_holm_keeps_the_order_and_is_no_stricter_than_bonferroni(values):
    adjusted = holm_adjust(values)
    k = len(values)
    for i in range(k):
        assert adjusted[i] <= min(1.0, k * values[i]) + 1e-12
        for j in range(k):
            if values[i] <= values[j]:
                assert adjusted[i] <= adjusted[j]
    # The smallest p-value is multiplied by the family's size.
    assert min(adjusted) == pytest.approx(min(1.0, k * min(values)))


@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_holm_of_one_test_is_the_test(value):
    assert holm_adjust([value]) == [value]


def test_holm_by_hand():
    # Sorted 0.01, 0.02, 0.04 → 3·0.01 = 0.03, 2·0.02 = 0.04, max(0.04, 1·0.04) = 0.04.
    assert holm_adjust([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])

"""The offline analyst answers the question asked: numbers in a free question are read with
their roles and the answer computes what they mean (every expected value is recomputed
here from the textbook formula, not copied from the output)."""

from __future__ import annotations

import math
import random
import re
from statistics import NormalDist
from typing import Any

import pytest

from agents import MCPRouter, TaskKind
from agents.analyst import analyze
from agents.analyst._question import parse_question
from agents.tasks import parse_task_input

Z95 = NormalDist().inv_cdf(0.95)
GAMMA = 0.5772156649015329


def ask(question: str) -> dict[str, Any]:
    task = parse_task_input(TaskKind.ASK, {"question": question})
    return analyze(TaskKind.ASK, task).model_dump()


def figure(out: dict[str, Any], name: str, reading: str = "") -> float:
    found = [f["value"] for f in out["figures"] if f["name"] == name and reading in f["reading"]]
    assert len(found) == 1, (name, reading, out["figures"])
    return float(found[0])


def noise_max(n_trials: int) -> float:
    """E[max] of n_trials standard normals (Bailey & López de Prado's approximation)."""
    inv = NormalDist().inv_cdf
    return (1 - GAMMA) * inv(1 - 1 / n_trials) + GAMMA * inv(1 - 1 / (n_trials * math.e))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Is a Sharpe of 1.2 on 40 trades meaningful?", {"sharpe": 1.2, "n_trades": 40}),
        ("Шарп 1,2 на 40 сделках — это значимо?", {"sharpe": 1.2, "n_trades": 40}),
        ("a 55% win rate and PF 1.4 on 80 trades", {"win_rate": 0.55, "profit_factor": 1.4, "n_trades": 80}),
        ("EMA 20/50 on 15m: max drawdown 30 with 60% vol over 18 months",
         {"timeframe_minutes": 15, "max_drawdown": 0.3, "volatility": 0.6, "years": 1.5}),
        ("best of 50, sharpe -0.5, n=300 trades", {"n_trials": 50, "sharpe": -0.5, "n_trades": 300}),
        ("винрейт 0,62 на 1,000 сделок, перебрал 100 комбинаций",
         {"win_rate": 0.62, "n_trades": 1000, "n_trials": 100}),
        ("PBO of 0.03 and DSR 0.9", {"pbo": 0.03, "deflated_sharpe": 0.9}),
        ("what is sqn", {}),
    ],
)  # fmt: skip
def test_numbers_are_read_with_their_roles(question: str, expected: dict[str, float]) -> None:
    got = {role: q.value for role, q in parse_question(question).quantities.items()}
    assert got == pytest.approx(expected)


def test_sharpe_on_trades_reports_both_readings_with_numbers() -> None:
    out = ask("Is a Sharpe of 1.2 on 40 trades meaningful?")
    assert out["recognised"] == {"sharpe": 1.2, "n_trades": 40.0}
    # Per trade: n = 40 observations.
    s, n = 1.2, 40
    assert figure(out, "sharpe_t_stat", "per-trade") == pytest.approx(s * math.sqrt(n), rel=1e-3)
    assert figure(out, "sharpe_t_stat", "per-trade") == pytest.approx(7.589, abs=1e-3)
    se = math.sqrt((1 + s**2 / 2) / n)
    assert figure(out, "sharpe_se", "per-trade") == pytest.approx(se, rel=1e-3)
    psr = NormalDist().cdf(s * math.sqrt(n - 1) / math.sqrt(1 + s**2 / 2))
    assert figure(out, "probabilistic_sharpe", "per-trade") == pytest.approx(psr, abs=1e-4)
    mintrl = 1 + (1 + s**2 / 2) * (Z95 / s) ** 2
    assert figure(out, "min_track_record", "per-trade") == pytest.approx(mintrl, rel=1e-3)
    # Annualised (the engine's convention, daily returns assumed): years, not trades, decide.
    sp = s / math.sqrt(365)
    years = (1 + (1 + sp**2 / 2) * (Z95 / sp) ** 2) / 365
    assert figure(out, "min_track_record_years", "annualised") == pytest.approx(years, rel=1e-3)
    assert 1.8 < years < 1.95
    text = out["answer"]
    for shown in ("1.2", "40", "7.59", "0.207", "1.89 years", "per-trade", "annualised"):
        assert shown in text, shown
    assert "assumed" in text and "needs the period" in out["summary"]
    assert any("period" in c for c in out["caveats"])
    assert any("tried" in c for c in out["caveats"])  # number of trials unknown
    assert {"sharpe", "numbers"} <= set(out["topics"])


def test_russian_question_gets_the_same_figures() -> None:
    ru = ask("Шарп 1,2 на 40 сделках — это значимо?")
    en = ask("Is a Sharpe of 1.2 on 40 trades meaningful?")
    assert ru["figures"] == en["figures"] and ru["recognised"] == en["recognised"]


def test_explicit_per_trade_sharpe_with_trials_is_deflated() -> None:
    out = ask("A per-trade Sharpe of 0.3 on 40 trades, picked as the best of 20 variants")
    readings = {f["reading"] for f in out["figures"]}
    assert readings == {"per-trade Sharpe, n = 40 trades"}  # one reading: the user said so
    assert figure(out, "sharpe_t_stat") == pytest.approx(0.3 * math.sqrt(40), rel=1e-3)
    noise = noise_max(20) / math.sqrt(40)
    assert figure(out, "expected_max_sharpe") == pytest.approx(noise, rel=1e-3)
    dsr = NormalDist().cdf((0.3 - noise) * math.sqrt(39) / math.sqrt(1 + 0.3**2 / 2))
    assert figure(out, "deflated_sharpe") == pytest.approx(dsr, abs=1e-3)
    assert dsr < 0.95 and "does not survive" in out["answer"] and "20" in out["answer"]


def test_annualised_sharpe_with_period_bars_and_trials() -> None:
    out = ask(
        "I tested 200 parameter combinations; the best has an annualised Sharpe of 1.8 "
        "over 2 years on 15m bars. Is it real?"
    )
    ppy = 365 * 24 * 4
    n, sp = 2 * ppy, 1.8 / math.sqrt(ppy)
    assert figure(out, "sharpe_t_stat") == pytest.approx(1.8 * math.sqrt(2), rel=1e-3)
    se = math.sqrt((1 + sp**2 / 2) / n) * math.sqrt(ppy)
    assert figure(out, "sharpe_se") == pytest.approx(se, rel=1e-3)
    noise = noise_max(200) / math.sqrt(2)  # annualised: 1/sqrt(years) per unit
    assert figure(out, "expected_max_sharpe") == pytest.approx(noise, rel=2e-3)
    assert 1.9 < noise < 2.0 and figure(out, "deflated_sharpe") < 0.5
    assert "200" in out["answer"] and "does not survive" in out["answer"]
    assert not any("tried" in c for c in out["caveats"])  # the number of trials was given


def test_daily_sharpe_uses_the_given_skew_and_kurtosis() -> None:
    out = ask("daily Sharpe of 0.08 over 500 days, skew -0.5, excess kurtosis 4")
    factor = 1 - (-0.5) * 0.08 + (7 - 1) / 4 * 0.08**2  # Mertens 2002
    assert figure(out, "sharpe_se") == pytest.approx(math.sqrt(factor / 500), rel=1e-3)
    assert "kurtosis 7" in out["answer"]
    assert not any("distribution" in c for c in out["caveats"])


def test_win_rate_interval_and_coin_flip() -> None:
    out = ask("Win rate 58% over 120 trades - is it better than a coin flip?")
    p, n = 0.58, 120
    assert figure(out, "win_rate_se") == pytest.approx(math.sqrt(p * (1 - p) / n), rel=1e-3)
    z = 1.959964
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert figure(out, "win_rate_ci_low") == pytest.approx(centre - half, abs=1e-4)
    assert figure(out, "win_rate_ci_high") == pytest.approx(centre + half, abs=1e-4)
    assert figure(out, "win_rate_z_vs_50pct") == pytest.approx(0.08 / math.sqrt(0.25 / n), rel=1e-3)
    assert "58.0 %" in out["answer"] and "120" in out["answer"]
    assert "NOT distinguishable" in out["answer"]
    assert "distinguishable from a coin flip" in ask("win rate 60% over 400 trades")["answer"]


def test_win_rate_with_payoff_and_small_sample_profit_factor() -> None:
    out = ask("a 55% win rate and profit factor 1.4 on 25 trades, payoff 1.2")
    assert figure(out, "breakeven_win_rate") == pytest.approx(1 / 2.2, rel=1e-3)
    assert figure(out, "implied_payoff_ratio") == pytest.approx(1.4 * 0.45 / 0.55, rel=1e-3)
    assert "straddles" in out["answer"]
    assert "outliers" in out["answer"] and "25 trades" in out["answer"]
    assert any("trade list" in c for c in out["caveats"])


def test_drawdown_against_a_zero_edge_random_walk() -> None:
    out = ask("Max drawdown 30% with 60% annual volatility over 3 years - is that bad?")
    assert figure(out, "recovery_gain") == pytest.approx(0.3 / 0.7, rel=1e-3)
    noise = 1 - math.exp(-math.sqrt(math.pi / 2) * 0.6 * math.sqrt(3))
    assert figure(out, "expected_max_drawdown_no_edge") == pytest.approx(noise, rel=1e-3)
    assert "42.9 %" in out["answer"] and "smaller" in out["answer"]
    bare = ask("is a 30% drawdown acceptable?")
    assert any("volatility and horizon" in c for c in bare["caveats"])


def test_trials_and_trade_counts_alone() -> None:
    out = ask("I tried 100 combinations over 2 years; what should the best Sharpe beat?")
    assert figure(out, "expected_max_sharpe") == pytest.approx(
        noise_max(100) / math.sqrt(2), rel=1e-3
    )
    few = ask("Is 40 trades enough?")
    assert figure(few, "min_significant_per_trade_sharpe") == pytest.approx(
        Z95 / math.sqrt(40), rel=1e-3
    )
    assert "0.26" in few["answer"]


def test_question_without_numbers_keeps_the_tables_answer() -> None:
    out = ask("what is sqn")
    assert out["recognised"] == {} and out["figures"] == [] and out["caveats"] == []
    assert out["topics"] == ["sqn"]
    assert out["answer"].startswith("sqn: System quality") and "Formula:" in out["answer"]
    nothing = ask("hello there")
    assert "answers from its own tables" in nothing["answer"] and nothing["figures"] == []


async def test_numbers_answer_through_the_router() -> None:
    async with MCPRouter() as router:
        result = await router.run(
            TaskKind.ASK, {"question": "Is a Sharpe of 1.2 on 40 trades meaningful?"}
        )
    assert result.agent == "local"
    assert "7.59" in result.text and "40" in result.text
    assert result.output is not None and result.output["figures"]
    assert all(math.isfinite(f["value"]) for f in result.output["figures"])


def test_odd_numbers_never_break_the_answer() -> None:
    fragments = [
        "Sharpe", "of", "-3", "0", "1e5", "9" * 400, "trades", "years", "-2 years", "0 trades",
        "win rate", "100%", "150%", "profit factor", "drawdown", "1,000,000", "combinations",
        "per-trade", "annualised", "daily", "15m", "vol", "1", "skew", "kurtosis", "0.5", "?",
        "PBO", "n=", "best of", "1.5.3", ",", "шарп", "сделок", "лет",
    ]  # fmt: skip
    rng = random.Random(7)
    for _ in range(400):
        question = " ".join(rng.choice(fragments) for _ in range(rng.randint(1, 12)))
        out = ask(question)
        assert out["answer"], question
        assert all(math.isfinite(f["value"]) for f in out["figures"]), question
        assert not re.search(r"\b(nan|inf)\b", out["answer"]), question

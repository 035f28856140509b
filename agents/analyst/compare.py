"""Rank strategies by risk-adjusted metrics, with reasons."""

from __future__ import annotations

from agents.analyst.backtest import find_red_flags, metric
from agents.outputs import RankedStrategy, StrategyComparison
from agents.tasks import CompareStrategiesInput, NamedMetrics

__all__ = ["compare_strategies", "score_strategy"]


def score_strategy(
    item: NamedMetrics, *, tolerance: float, min_trades: int
) -> tuple[float, list[str]]:
    """Risk-adjusted score (higher is better) and the reasons behind it.

    Base = Sharpe (Sortino/daily Sharpe when missing) + 0.5 * min(Calmar, 5);
    shrunk by the trade count (a Sharpe on 8 trades is mostly noise) and
    penalised for drawdown beyond tolerance, profit factor < 1 and liquidations.
    """
    m = item.metrics
    reasons: list[str] = []
    sharpe = metric(m, "sharpe")
    label = "Sharpe"
    if sharpe is None:
        sharpe, label = metric(m, "sortino"), "Sortino"
    if sharpe is None:
        sharpe, label = metric(m, "sharpe_daily"), "daily Sharpe"
    base = sharpe if sharpe is not None else 0.0
    reasons.append(
        f"{label} {base:.2f}" if sharpe is not None else "no Sharpe/Sortino: scored as 0"
    )
    calmar = metric(m, "calmar")
    if calmar is not None:
        base += 0.5 * min(calmar, 5.0)
        reasons.append(f"Calmar {calmar:.2f}")
    n = metric(m, "n_trades")
    if n is not None and n < min_trades:
        shrink = max(n, 0.0) / min_trades
        base = base * shrink if base > 0 else base
        reasons.append(f"only {int(n)} trades: score shrunk x{shrink:.2f}")
    dd = metric(m, "max_drawdown")
    if dd is not None:
        if dd > tolerance:
            base -= 1.0 + (dd - tolerance) * 4
            reasons.append(f"drawdown {dd:.1%} beyond {tolerance:.0%} tolerance")
        else:
            reasons.append(f"drawdown {dd:.1%} within tolerance")
    pf = metric(m, "profit_factor")
    if pf is not None and pf < 1:
        base -= 1.0
        reasons.append(f"profit factor {pf:.2f} < 1")
    if metric(m, "n_liquidations"):
        base -= 2.0
        reasons.append("liquidations")
    return round(base, 6), reasons


def compare_strategies(task: CompareStrategiesInput) -> StrategyComparison:
    """Strategies ranked best first; ties broken by name for determinism."""
    scored = []
    for item in task.strategies:
        score, reasons = score_strategy(
            item, tolerance=task.max_drawdown_tolerance, min_trades=task.min_trades
        )
        flags = find_red_flags(
            item.metrics,
            max_drawdown_tolerance=task.max_drawdown_tolerance,
            min_trades=task.min_trades,
        )
        scored.append((score, item.name, reasons, flags))
    scored.sort(key=lambda s: (-s[0], s[1]))
    ranking = [
        RankedStrategy(name=name, rank=i + 1, score=score, reasons=reasons, red_flags=flags)
        for i, (score, name, reasons, flags) in enumerate(scored)
    ]
    best = ranking[0]
    runner = ranking[1]
    summary = (
        f"{best.name} ranks first (score {best.score:.2f} vs {runner.score:.2f} for {runner.name}): "
        f"{'; '.join(best.reasons)}."
    )
    return StrategyComparison(summary=summary, ranking=ranking, best=best.name)

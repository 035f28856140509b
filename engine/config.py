"""Backtest options: one validated model, turned into the kernels' plain arrays."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine._nb import enums as E

Fill = Literal["next_open", "close"]
Direction = Literal["long", "short", "both"]
SameBar = Literal["stop_first", "tp_first", "ohlc_path"]
SizeMode = Literal["equity_fraction", "fixed_qty", "fixed_notional"]

#: The kernel's float slots that take a config field as it is (maker_fee has a fallback).
_FLOAT_SLOTS: tuple[tuple[int, str], ...] = (
    (E.F_INIT_CAPITAL, "initial_capital"), (E.F_SL, "sl"), (E.F_TP, "tp"), (E.F_TRAIL, "trail"),
    (E.F_TRAIL_ACTIVATION, "trail_activation"), (E.F_FEE, "fee"), (E.F_SLIPPAGE, "slippage"),
    (E.F_SIZE, "size"), (E.F_LEVERAGE, "leverage"), (E.F_QTY_STEP, "qty_step"),
    (E.F_MIN_QTY, "min_qty"), (E.F_MAINT_MARGIN, "maintenance_margin"),
)


class BacktestConfig(BaseModel):
    """Every execution option of the engine, with the spec's defaults.

    Fractions are plain numbers (0.003 = 0.3 %). See the README's "Execution
    semantics" section for what each option does bar by bar.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_capital: float = Field(10_000.0, gt=0, description="Starting equity in quote currency")
    fill: Fill = Field("next_open", description="Signals on bar i's close fill at bar i+1's open, or at bar i's close")
    direction: Direction = Field("both", description="Trade long only, short only, or both with reversals")
    sl: float = Field(0.0, ge=0, lt=1, description="Stop-loss as a fraction of the fill price (0 = off)")
    tp: float = Field(0.0, ge=0, le=100, description="Take-profit as a fraction of the fill price (0 = off)")
    trail: float = Field(0.0, ge=0, lt=1, description="Trailing stop distance from the best price since entry (0 = off)")
    trail_activation: float = Field(0.0, ge=0, le=100, description="Profit fraction the best price must reach before trailing starts")
    check_entry_bar: bool = Field(True, description="Test SL/TP on the entry bar itself")
    same_bar: SameBar = Field("stop_first", description="Which exit wins when one bar touches both SL and TP")
    fee: float = Field(0.00055, ge=0, lt=0.1, description="Taker fee rate per fill (Bybit: 0.055 %)")
    maker_fee: float | None = Field(None, ge=0, lt=0.1, description="Fee for take-profit (limit) fills; None = the taker fee")
    slippage: float = Field(0.0, ge=0, lt=0.1, description="Adverse fraction on market and stop fills, never on take-profits")
    size_mode: SizeMode = Field("equity_fraction", description="How the order size is set")
    size: float = Field(1.0, gt=0, description="Equity fraction, quantity or notional, per size_mode")
    leverage: float = Field(1.0, ge=1, le=200, description="Leverage applied to equity_fraction sizing and liquidation")
    qty_step: float = Field(0.0, ge=0, description="Round quantities down to this step (0 = no rounding)")
    min_qty: float = Field(0.0, ge=0, description="Orders below this quantity are skipped and counted")
    funding_rate: float | None = Field(None, gt=-0.1, lt=0.1, description="Constant funding rate charged every funding_hours (None = off)")
    funding_hours: int = Field(8, ge=1, le=24, description="Funding period in hours, aligned to 00:00 UTC")
    liquidation: bool = Field(False, description="Close positions at the isolated-margin liquidation price")
    maintenance_margin: float = Field(0.005, ge=0, lt=0.5, description="Maintenance margin rate for the liquidation price")

    @model_validator(mode="after")
    def _check(self) -> BacktestConfig:
        if self.size_mode == "equity_fraction" and self.size > 1.0:
            raise ValueError(
                "size is a fraction of equity in equity_fraction mode and must be <= 1; "
                "use leverage to trade more than your equity"
            )
        if self.liquidation and 1.0 / self.leverage <= self.maintenance_margin:
            raise ValueError("maintenance_margin must be below 1/leverage, or every position is liquidated at once")
        return self

    def float_array(self) -> np.ndarray:
        """The float options in the kernel's layout."""
        f = np.zeros(E.N_FCFG)
        for slot, name in _FLOAT_SLOTS:
            f[slot] = getattr(self, name)
        f[E.F_MAKER_FEE] = self.fee if self.maker_fee is None else self.maker_fee
        return f

    def int_array(self, has_funding: bool) -> np.ndarray:
        """The integer options in the kernel's layout."""
        i = np.zeros(E.N_ICFG, dtype=np.int64)
        i[E.I_FILL_CLOSE] = 1 if self.fill == "close" else 0
        i[E.I_DIRECTION] = {"long": E.DIR_LONG, "short": E.DIR_SHORT, "both": E.DIR_BOTH}[self.direction]
        i[E.I_SAME_BAR] = {"stop_first": E.SAME_STOP_FIRST, "tp_first": E.SAME_TP_FIRST, "ohlc_path": E.SAME_OHLC_PATH}[self.same_bar]
        i[E.I_CHECK_ENTRY_BAR] = int(self.check_entry_bar)
        i[E.I_SIZE_MODE] = {"equity_fraction": E.SIZE_EQUITY_FRACTION, "fixed_qty": E.SIZE_FIXED_QTY, "fixed_notional": E.SIZE_FIXED_NOTIONAL}[self.size_mode]
        i[E.I_LIQUIDATION] = int(self.liquidation)
        i[E.I_HAS_FUNDING] = int(has_funding)
        return i


def funding_per_bar(
    time_ms: np.ndarray,
    config: BacktestConfig,
    series: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Funding rate due at each bar's open (0 where none is due); an empty array
    when funding is off, so the kernel skips it without reading a zero per bar.

    A funding event at time t is charged at the first bar opening at or after t,
    to the position held into that bar. ``series`` = (event times ms, rates)
    overrides the constant rate."""
    if series is None and (config.funding_rate is None or time_ms.shape[0] < 2):
        return np.zeros(0)
    out = np.zeros(time_ms.shape[0])
    if series is not None:
        times, rates = (np.asarray(a) for a in series)
        idx = np.searchsorted(time_ms, times.astype(np.int64), side="left")
        ok = (idx > 0) & (idx < time_ms.shape[0])  # an event before the first bar has no holder
        np.add.at(out, idx[ok], rates[ok].astype(np.float64))
        return out
    assert config.funding_rate is not None
    period = config.funding_hours * 3_600_000
    slot = time_ms // period
    # bar i opens at or after a funding time that bar i-1 had not reached
    due = np.flatnonzero(slot[1:] > slot[:-1]) + 1
    out[due] = config.funding_rate
    return out

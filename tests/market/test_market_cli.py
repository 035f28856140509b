"""`bybit-tester data fetch/list/gaps/export` and `fake-bybit`, offline against the in-process fake."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from market import CandleStore, DatasetKey
from mcp_server.candles import read_candles_file
from mcp_server.cli import app
from ohlcv import COLUMNS

runner = CliRunner()
KEY = DatasetKey.of("linear", "BTCUSDT", "1")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv("BST_DATA_DIR", str(root))
    monkeypatch.chdir(tmp_path)  # no stray .env from the working tree
    return root


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """Two days of BTCUSDT 1m fetched from the fake once for the module."""
    root = tmp_path_factory.mktemp("cli") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BST_DATA_DIR", str(root))
        res = runner.invoke(
            app, ["data", "fetch", "BTCUSDT", "--interval", "1", "--days", "2", "--source", "fake"]
        )
    return root, res


def use(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BST_DATA_DIR", str(root))


def assert_usage_error(res: Result, *needles: str) -> None:
    """Exit code 2, one `error:` line naming the problem, no traceback."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert "Traceback" not in res.output and "Traceback" not in res.stderr
    for needle in needles:
        assert needle.lower() in errors[0].lower(), errors[0]


def test_fetch_from_fake_stores_two_days(fetched: tuple[Path, Result]) -> None:
    root, res = fetched
    assert res.exit_code == 0, (res.output, res.stderr)
    assert "BTCUSDT 1 (linear)" in res.stdout and "candles in the store" in res.stdout
    candles = CandleStore(root).load(KEY)
    assert 2 * 1440 - 2 <= len(candles) <= 2 * 1440 + 1
    assert (candles.time[1:] - candles.time[:-1] == 60_000).all()


def test_fetch_progress_last_line_counts_candles(fetched: tuple[Path, Result]) -> None:
    root, res = fetched
    n = len(CandleStore(root).load(KEY))
    progress = [ln for ln in res.stderr.splitlines() if "candles" in ln and "req" in ln]
    assert progress, res.stderr
    last = progress[-1]
    assert "0/0 candles" not in last
    assert f"{n:,}/{n:,} candles" in last, last  # the bar ends complete, with the real count


def test_fetch_again_resumes_without_refetching(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = fetched
    use(root, monkeypatch)
    before = len(CandleStore(root).load(KEY))
    res = runner.invoke(app, ["data", "fetch", "BTCUSDT", "--days", "2", "--source", "fake"])
    assert res.exit_code == 0, res.stderr
    assert len(CandleStore(root).load(KEY)) >= before
    assert "0/0 candles" not in res.stderr


def test_list_shows_the_dataset(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = fetched
    use(root, monkeypatch)
    res = runner.invoke(app, ["data", "list"])
    assert res.exit_code == 0, res.stderr
    n = len(CandleStore(root).load(KEY))
    assert "BTCUSDT" in res.stdout and "linear" in res.stdout and f"{n:,}" in res.stdout


def test_candles_from_the_fake_are_labelled_synthetic_everywhere(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fetched from the fake, stored candles are synthetic: in the listing and in every
    backtest result made from them."""
    import json

    root, _ = fetched
    use(root, monkeypatch)
    listing = runner.invoke(app, ["data", "list"])
    assert "SYNTHETIC" in listing.stdout, listing.stdout
    args = ["backtest", "--source", "store", "--symbol", "BTCUSDT", "--interval", "1",
            "--param", "fast=5", "--param", "slow=20"]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, (res.output, res.stderr)
    assert json.loads(res.stdout)["synthetic"] is True
    table = runner.invoke(app, args)
    assert "SYNTHETIC: offline fake Bybit, via the store" in table.stdout, table.stdout
    assert "sample" not in table.stdout.lower(), table.stdout  # came from the store, not the sample


def test_list_empty_store_hints_fetch(data_dir: Path) -> None:
    res = runner.invoke(app, ["data", "list"])
    assert res.exit_code == 0
    assert "no data sets stored yet" in res.stdout


def test_gaps_none_after_fetch(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = fetched
    use(root, monkeypatch)
    res = runner.invoke(app, ["data", "gaps", "BTCUSDT", "--interval", "1"])
    assert res.exit_code == 0, res.stderr
    assert "linear/BTCUSDT/1: no gaps" in res.stdout


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_reads_back(
    suffix: str, fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root, _ = fetched
    use(root, monkeypatch)
    stored = CandleStore(root).load(KEY)
    out = tmp_path / f"x{suffix}"
    res = runner.invoke(app, ["data", "export", "BTCUSDT", "-i", "1", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    assert f"wrote {len(stored):,} candles" in res.stdout
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    # the fake served these candles: the export keeps the synthetic label, and reads back with it
    assert list(frame.columns) == [*COLUMNS, "synthetic"] and frame["synthetic"].all()
    assert read_candles_file(out).synthetic
    if suffix == ".parquet":  # the file's own metadata says so too, in words
        meta = pq.read_schema(out).metadata
        assert meta[b"bybit_tester.synthetic"] == b"true"
        assert meta[b"bybit_tester.data"] == b"synthetic candles from the offline fake Bybit, read from the store"
        assert read_candles_file(_without_column(out)).synthetic  # the metadata alone keeps the label
    assert len(frame) == len(stored)
    assert frame["time"].tolist() == stored.time.tolist()
    assert frame["close"].to_numpy() == pytest.approx(stored.close)


def test_export_time_window(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root, _ = fetched
    use(root, monkeypatch)
    t = CandleStore(root).load(KEY).time
    lo, hi = int(t[10]), int(t[19])
    out = tmp_path / "w.csv"
    res = runner.invoke(
        app, ["data", "export", "BTCUSDT", "-i", "1", "--start", str(lo), "--end", str(hi),
              "--out", str(out)]
    )
    assert res.exit_code == 0, res.stderr
    assert pd.read_csv(out)["time"].tolist() == t[10:20].tolist()


# ---- bad input: exit code 2, one line, no traceback --------------------------------


def test_fetch_unknown_symbol(data_dir: Path) -> None:
    res = runner.invoke(app, ["data", "fetch", "NOPEUSDT", "--days", "1", "--source", "fake"])
    assert_usage_error(res, "NOPEUSDT")
    assert "BTCUSDT" in res.stderr  # the valid choices are listed


def test_fetch_unknown_interval(data_dir: Path) -> None:
    res = runner.invoke(
        app, ["data", "fetch", "BTCUSDT", "-i", "7", "--days", "1", "--source", "fake"]
    )
    assert_usage_error(res, "7")


def test_fetch_unknown_category_and_source(data_dir: Path) -> None:
    assert_usage_error(
        runner.invoke(
            app, ["data", "fetch", "BTCUSDT", "--category", "option", "--source", "fake"]
        ),
        "category",
    )
    assert_usage_error(
        runner.invoke(app, ["data", "fetch", "BTCUSDT", "--source", "binance"]), "source"
    )


def test_export_start_after_end(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(fetched[0], monkeypatch)
    res = runner.invoke(
        app,
        ["data", "export", "BTCUSDT", "--start", "2024-02-01", "--end", "2024-01-01", "--out", str(tmp_path / "x.csv")],
    )  # fmt: skip
    assert_usage_error(res, "--start is after --end")
    assert not (tmp_path / "x.csv").exists()


def test_export_bad_time_and_suffix(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(fetched[0], monkeypatch)
    res = runner.invoke(
        app, ["data", "export", "BTCUSDT", "--start", "yesterday", "--out", str(tmp_path / "x.csv")]
    )
    assert_usage_error(res, "yesterday")
    res = runner.invoke(app, ["data", "export", "BTCUSDT", "--out", str(tmp_path / "x.json")])
    assert_usage_error(res, ".json")


def test_export_nothing_stored(data_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["data", "export", "BTCUSDT", "--out", str(tmp_path / "x.csv")])
    assert_usage_error(res, "no stored candles")


def test_gaps_unknown_dataset(data_dir: Path) -> None:
    assert_usage_error(
        runner.invoke(app, ["data", "gaps", "ETHUSDT", "-i", "5"]), "no stored data set"
    )


def test_unwritable_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("BST_DATA_DIR", str(blocker / "data"))
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["data", "fetch", "BTCUSDT", "--days", "1", "--source", "fake"])
    assert_usage_error(res, "not writable")
    assert blocker.read_text().startswith("a file")  # nothing clobbered


def test_fake_bybit_help() -> None:
    res = runner.invoke(app, ["fake-bybit", "--help"])
    assert res.exit_code == 0
    for option in ("--port", "--history-days", "--seed", "--ban-seconds"):
        assert option in res.stdout


def test_fake_bybit_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = runner.invoke(app, ["fake-bybit", "--port", str(port)])
    assert_usage_error(res, f"127.0.0.1:{port}")


@pytest.mark.parametrize("interval", ["D", "W", "M"])
def test_fetch_daily_weekly_monthly_from_the_fake(data_dir: Path, interval: str) -> None:
    """The fake answered HTTP 500 for D, W and M when wired to the engine's generator."""
    res = runner.invoke(
        app, ["data", "fetch", "BTCUSDT", "-i", interval, "--days", "70", "--source", "fake"]
    )
    assert res.exit_code == 0, (res.output, res.stderr)
    stored = CandleStore(data_dir).load(DatasetKey.of("linear", "BTCUSDT", interval))
    assert len(stored) >= 2 and stored.synthetic


def _without_column(path: Path) -> Path:
    """The Parquet file with its `synthetic` column dropped (as another tool might), metadata kept."""
    table = pq.read_table(path)
    bare = path.with_name("bare.parquet")
    pq.write_table(table.drop_columns(["synthetic"]), bare)
    return bare


def test_reimported_export_backtests_as_synthetic_file_data(
    fetched: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    root, _ = fetched
    use(root, monkeypatch)
    out = tmp_path / "fake.csv"
    assert runner.invoke(app, ["data", "export", "BTCUSDT", "-i", "1", "--out", str(out)]).exit_code == 0
    res = runner.invoke(app, ["backtest", "--data", str(out), "--interval", "1", "--param", "fast=5",
                              "--param", "slow=20", "--json"])  # fmt: skip
    assert res.exit_code == 0, (res.output, res.stderr)
    payload = json.loads(res.stdout)
    assert payload["synthetic"] is True
    assert payload["provenance"] == "synthetic candles from a file labelled synthetic"

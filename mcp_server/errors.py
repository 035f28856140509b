"""Errors of the composing layer, and the one table that says how every surface reports them.

    ServerError                  a problem this package found
     ├── DataUnavailableError    no usable candles for that source, symbol, range or file
     ├── ResultNotFoundError     an unknown or expired backtest / optimisation id
     ├── StartupError            refuse to start (e.g. no token on a public host)
     ├── EventBusUnavailableError the job-event bus (Redis) cannot be reached
     ├── InvalidEventIdError     an event id that is not a stream id (`<ms>-<seq>`)
     ├── JobNotFoundError        an unknown or expired job id
     ├── JobStateError           a job that cannot do that now (result not ready, cancelled,
     │                           failed, or a job of another kind)
     ├── BrokerUnavailableError  the job broker or its store does not answer
     ├── LiveNotRunningError     live data asked for, but this process runs no live stream
     ├── CatalogError            the results catalog (the database behind list_runs)
     │    ├── CatalogConfigError      a DATABASE_URL that is not a database URL we can use
     │    ├── CatalogUnavailableError the database does not answer
     │    ├── CatalogVersionError     a schema revision this version cannot use (newer, or
     │    │                           older with BST_DB_AUTO_UPGRADE=false)
     │    ├── UnknownMetricError      a filter or sort on a metric no run has
     │    └── RunArgumentError        run listing/tagging/comparison arguments that cannot be
     │                                used (a bound not `name:value`, a malformed tag)
     ├── RunNotFoundError        (a ResultNotFoundError) a run id the catalog does not hold
     └── ResultKindError         a result id of another kind than asked (a walk-forward id
                                 for a heatmap): 409, the id exists but cannot answer that

`PROBLEMS` maps each error type (ours and the domain packages') to a `Problem`:
the fix hint added to its message, the HTTP status, the CLI exit code and the
outcome label the telemetry counts. `lookup` walks an exception's class
hierarchy, so a subclass inherits its parent's row unless it has its own. An
exception without a row is a bug: surfaces let it crash loudly (MCP reports an
internal error and logs the traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

import agents as A
import engine as E
import market as M
import ohlcv
from mcp_server.validation import field_lines

__all__ = [
    "PROBLEMS",
    "BrokerUnavailableError",
    "CatalogConfigError",
    "CatalogError",
    "CatalogUnavailableError",
    "CatalogVersionError",
    "DataUnavailableError",
    "EventBusUnavailableError",
    "InvalidEventIdError",
    "JobNotFoundError",
    "JobStateError",
    "LiveNotRunningError",
    "Problem",
    "ResultKindError",
    "ResultNotFoundError",
    "RunArgumentError",
    "RunNotFoundError",
    "ServerError",
    "StartupError",
    "UnknownMetricError",
    "describe",
    "lookup",
]


class ServerError(Exception):
    """Base of this package's errors."""


class DataUnavailableError(ServerError):
    """No candles for the requested source, symbol, interval, range or file."""


class ResultNotFoundError(ServerError):
    """An id that is unknown here (never produced, or evicted)."""


class StartupError(ServerError):
    """The server refuses to start with this configuration."""


class EventBusUnavailableError(ServerError):
    """The job-event bus (Redis Streams) did not answer."""


class InvalidEventIdError(ServerError):
    """An event id (e.g. `Last-Event-ID`) that is not a stream id."""


class JobNotFoundError(ServerError):
    """A job id that is unknown here (never submitted, or past BST_JOB_TTL)."""


class JobStateError(ServerError):
    """A job that cannot do what was asked in its state: a result asked before it exists,
    of a cancelled or failed job, or of a job of another kind."""


class BrokerUnavailableError(ServerError):
    """The job broker (or the store of job state) does not answer."""


class LiveNotRunningError(ServerError):
    """Live data was asked for, but no live stream runs in this process."""


class CatalogError(ServerError):
    """The results catalog (the run database) could not do what was asked."""


class CatalogConfigError(CatalogError):
    """DATABASE_URL is not a database URL the catalog can use."""


class CatalogUnavailableError(CatalogError):
    """The catalog's database does not answer (down, unreachable, or refusing us)."""


class CatalogVersionError(CatalogError):
    """The database's schema is at a revision this version of the package cannot use."""


class UnknownMetricError(CatalogError):
    """A filter or a sort on a metric name that no run has."""


class RunArgumentError(CatalogError):
    """Arguments of a run listing, tagging or comparison that cannot be used as given (a
    metric bound that is not `name:value`, a malformed tag, too few run ids...)."""


class RunNotFoundError(ResultNotFoundError):
    """A run id the catalog does not hold."""


class ResultKindError(ServerError):
    """A result id of another kind than the one asked for (e.g. a walk-forward id given
    to the optimisation heatmap)."""


Kind = Literal["bad_input", "not_found", "unavailable", "upstream"]
EXIT_USAGE = 2  # the caller can fix it
EXIT_FAILURE = 1  # something outside the caller's control failed


@dataclass(frozen=True)
class Problem:
    """How one kind of error reaches a user: `hint` is appended to its message."""

    kind: Kind
    http: int
    hint: str = ""
    exit: int | None = None  # the CLI exit code, when the kind's default does not fit

    @property
    def exit_code(self) -> int:
        if self.exit is not None:
            return self.exit
        return EXIT_USAGE if self.kind in ("bad_input", "not_found") else EXIT_FAILURE


_BAD = 400
_SAMPLE = "or use source='sample'"
_OFFLINE = (
    "offline, use source='sample', or source='store' for data already stored (list_datasets "
    "shows it), or set BST_BYBIT_BASE_URL to a `bybit-tester fake-bybit` server"
)

# Most specific first is not needed: `lookup` follows each exception's MRO.
PROBLEMS: dict[type[BaseException], Problem] = {
    # the floor and the engine: the input is wrong
    ohlcv.OhlcvError: Problem("bad_input", _BAD),
    E.UnknownStrategyError: Problem(
        "bad_input", _BAD, f"known strategies: {', '.join(E.STRATEGIES)}"
    ),
    E.GridTooLargeError: Problem("bad_input", _BAD, "narrow the ranges or use fewer values"),
    E.InvalidParameterError: Problem("bad_input", _BAD),
    E.InvalidDataError: Problem("bad_input", _BAD),
    E.EngineError: Problem("bad_input", _BAD),
    ValidationError: Problem("bad_input", _BAD),
    # ours
    DataUnavailableError: Problem("bad_input", _BAD),
    ResultNotFoundError: Problem("not_found", 404, "run it again to get a fresh id"),
    StartupError: Problem("bad_input", _BAD),
    EventBusUnavailableError: Problem(
        "unavailable", 503, "start redis-server, or fix or unset BST_EVENTS_URL (in-process events)"
    ),
    InvalidEventIdError: Problem("bad_input", _BAD),
    JobNotFoundError: Problem("not_found", 404, "list jobs to see the known ids"),
    JobStateError: Problem("bad_input", 409),
    BrokerUnavailableError: Problem(
        "unavailable", 503, "start the broker or unset BST_BROKER_URL to run jobs in-process"
    ),
    LiveNotRunningError: Problem("unavailable", 503),
    ResultKindError: Problem("bad_input", 409, "open the view that matches the result's kind"),
    CatalogConfigError: Problem(
        "bad_input", _BAD, "fix DATABASE_URL (e.g. postgresql://user@host:5432/db) or unset it "
        "for the SQLite catalog in BST_DATA_DIR"
    ),
    CatalogUnavailableError: Problem(
        "unavailable", 503, "start the database or fix DATABASE_URL; results are still returned, "
        "and recorded when it is back"
    ),
    CatalogVersionError: Problem("bad_input", 409, exit=EXIT_USAGE),
    UnknownMetricError: Problem("bad_input", _BAD),
    RunArgumentError: Problem("bad_input", _BAD),
    RunNotFoundError: Problem("not_found", 404, "list_runs (or `bybit-tester runs list`) shows the stored ids"),
    M.FanoutUnavailableError: Problem(
        "unavailable", 503, "start Redis, or set BST_LIVE_FANOUT_URL=memory:// for one process"
    ),
    # the exchange and the store
    M.UnknownSymbolError: Problem("bad_input", _BAD, "check the symbol and category"),
    M.InvalidRangeError: Problem("bad_input", _BAD, "pass start < end, both in the past"),
    M.InvalidRequestError: Problem("bad_input", _BAD, "fix the arguments named in the message"),
    M.RateLimitedError: Problem("upstream", 429, f"wait a few seconds and retry, {_SAMPLE}"),
    M.IPBannedError: Problem(
        "upstream", 503, f"the exchange banned this IP for a while; {_SAMPLE}"
    ),
    M.ExchangeUnreachableError: Problem("upstream", 503, _OFFLINE),
    M.ExchangeError: Problem(
        "upstream", 502, f"the exchange could not answer; retry later, {_SAMPLE}"
    ),
    M.StoreUnavailableError: Problem(
        "unavailable", 503, "check BST_DATA_DIR is writable", exit=EXIT_USAGE
    ),
    M.MarketError: Problem("upstream", 502, f"retry later, {_SAMPLE}"),
    # the AI router
    A.InvalidTaskError: Problem("bad_input", _BAD, "fix the named field and call again"),
    A.ReplayMissError: Problem(
        "unavailable",
        503,
        "ROUTER_MODE=replay answers only recorded questions; use live or offline",
    ),
    A.FatalRequestError: Problem(
        "upstream", 502, "the AI provider rejected the request; agent='local' answers offline"
    ),
    A.ConfigError: Problem("bad_input", _BAD, "agent='local' answers without configuration"),
    A.AgentsError: Problem("upstream", 502, "retry, or pass agent='local' for the offline analyst"),
}


def lookup(exc: BaseException) -> Problem | None:
    """The table row of `exc`'s nearest listed class, or None (an unexpected error: a bug)."""
    for cls in type(exc).__mro__:
        problem = PROBLEMS.get(cls)
        if problem is not None:
            return problem
    return None


def describe(exc: BaseException) -> str:
    """One line: what went wrong and how to fix it."""
    if isinstance(exc, ValidationError):
        text = "; ".join(field_lines(exc.errors()))
    else:
        text = str(exc).strip() or type(exc).__name__
    problem = lookup(exc)
    hint = problem.hint if problem is not None else ""
    line = f"{text.rstrip('.')}; {hint}" if hint and hint not in text else text
    return " ".join(line.split())

"""`bybit-tester worker`: a Celery worker for the job queues (prefork pool).

The worker's main process imports the engine but never runs, compiles or loads a
parallel numba kernel: with GNU OpenMP that would kill every forked child. Each pool
child sets its numba thread count so `concurrency x threads` fits the cores. Workers
on one host share numba's cache (the installation's, or NUMBA_CACHE_DIR).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcp_server.cli._app import app
from mcp_server.cli._errors import cli_errors, error_line

if TYPE_CHECKING:
    from mcp_server.settings import Settings

__all__ = ["worker"]

log = logging.getLogger("mcp_server.jobs")
_ALL = "backtest,optimizations.grid,optimizations.walk,optimizations.bayes,backfill"


def _check_catalog(settings: Settings) -> None:
    """Refuse to work for a catalog that can never take the results (a malformed
    DATABASE_URL, a schema newer than this version: raised, one line from `cli_errors`);
    one that does not answer now is a warning: records wait in the spool and are retried."""
    from mcp_server.catalog import SPOOL_DIR, open_catalog
    from mcp_server.errors import CatalogUnavailableError, describe

    catalog = open_catalog(settings)
    try:
        catalog.open()
    except CatalogUnavailableError as exc:
        spool = settings.server.data_dir / SPOOL_DIR
        sys.stderr.write(f"warning: results catalog unavailable: {describe(exc)}; results are "
                         f"kept in {spool} and recorded when it is back\n")  # fmt: skip
        sys.stderr.flush()
    finally:
        catalog.close()


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated queues to consume")
    ] = _ALL,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=64, help="Pool processes")
    ] = 1,
    name: Annotated[str, typer.Option("--name", "-n", help="Node name (NAME@%h)")] = "bst@%h",
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
    include: Annotated[
        list[str] | None, typer.Option("--include", "-I", help="Extra task modules to import")
    ] = None,
) -> None:
    """Run a worker for the queues of BST_BROKER_URL (Redis or RabbitMQ); it records its
    results in the catalog of DATABASE_URL (refused if malformed or newer than this version)."""
    from celery.signals import worker_process_init, worker_ready

    from mcp_server.jobs import QUEUES, make_celery_app
    from mcp_server.settings import Settings

    with cli_errors():
        settings = Settings()
        if settings.jobs.embedded:
            error_line("BST_BROKER_URL is not set: without a broker jobs run inside the server; "
                       "set BST_BROKER_URL=redis://127.0.0.1:6379/0 to run workers")  # fmt: skip
            raise typer.Exit(2)
        wanted = [q.strip() for q in queues.split(",") if q.strip()]
        unknown = sorted(set(wanted) - set(QUEUES))
        if unknown:
            raise typer.BadParameter(
                f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QUEUES)}"
            )
        _check_catalog(settings)
        celery_app = make_celery_app(settings.jobs)
    threads = max(1, (os.cpu_count() or 1) // concurrency)

    @worker_process_init.connect(weak=False)
    def _child_threads(**_: Any) -> None:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]

    @worker_ready.connect(weak=False)
    def _main_process_guard(**_: Any) -> None:
        # A main process that started numba's parallel layer (GNU OpenMP) kills every
        # child it forks afterwards: say so loudly instead of looping on lost workers.
        from numba.np.ufunc import parallel

        if parallel._is_initialized:
            log.error("numba's parallel layer is running in the worker's main process: "
                      "pool processes forked from it will die; file a bug")  # fmt: skip
        else:
            log.info("numba parallel layer not initialised in the main process (fork-safe)")

    argv = ["worker", "-P", "prefork", "-c", str(concurrency), "-Q", ",".join(wanted), "-n", name,
            "-l", loglevel, "--without-gossip", "--without-mingle"]  # fmt: skip
    for module in include or []:
        argv += ["-I", module]
    celery_app.worker_main(argv)

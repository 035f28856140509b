"""Create the results catalog: runs (+ metrics, tags), optimisations and walk-forwards,
jobs, the backfill audit and artifacts.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _artifacts()
    _backfill_audit()
    _jobs()
    _optimizations()
    _runs()
    _run_metrics()
    _run_tags()


def _artifacts() -> None:
    op.create_table(
        "artifacts",
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "name", name=op.f("pk_artifacts")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # NPY blobs barely compress, and pglz trying cost more than the rest of a run's
        # record: stored out of line as they are
        op.execute("ALTER TABLE artifacts ALTER COLUMN data SET STORAGE EXTERNAL")


def _backfill_audit() -> None:
    op.create_table(
        "backfill_audit",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("upserts", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_audit")),
    )
    op.create_index(op.f("ix_backfill_audit_created"), "backfill_audit", ["created"], unique=False)
    op.create_index(op.f("ix_backfill_audit_symbol"), "backfill_audit", ["symbol"], unique=False)


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_created"), "jobs", ["created"], unique=False)
    op.create_index(op.f("ix_jobs_kind"), "jobs", ["kind"], unique=False)
    op.create_index(op.f("ix_jobs_state"), "jobs", ["state"], unique=False)


def _optimizations() -> None:
    op.create_table(
        "optimizations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=32), nullable=False),
        sa.Column("space", sa.JSON(), nullable=False),
        sa.Column("objective", sa.String(length=64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("evaluated", sa.Integer(), nullable=False),
        sa.Column("best_params", sa.JSON(), nullable=False),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("best_metrics", sa.JSON(), nullable=False),
        sa.Column("overfitting", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=120), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optimizations")),
        sa.UniqueConstraint("key", name=op.f("uq_optimizations_key")),
    )
    op.create_index(op.f("ix_optimizations_created"), "optimizations", ["created"], unique=False)
    op.create_index(op.f("ix_optimizations_kind"), "optimizations", ["kind"], unique=False)
    op.create_index(op.f("ix_optimizations_strategy"), "optimizations", ["strategy"], unique=False)


def _runs() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=32), nullable=False),
        sa.Column("bars", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=True),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=120), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("key", name=op.f("uq_runs_key")),
    )
    op.create_index(op.f("ix_runs_created"), "runs", ["created"], unique=False)
    op.create_index(op.f("ix_runs_strategy_created"), "runs", ["strategy", "created"], unique=False)
    op.create_index(op.f("ix_runs_symbol_created"), "runs", ["symbol", "created"], unique=False)


def _run_metrics() -> None:
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_metrics_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_run_metrics")),
    )
    op.create_index(
        op.f("ix_run_metrics_name_value_run_id"),
        "run_metrics",
        ["name", "value", "run_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_run_metrics_name_symbol_value_run_id"),
        "run_metrics",
        ["name", "symbol", "value", "run_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_run_metrics_name_strategy_value_run_id"),
        "run_metrics",
        ["name", "strategy", "value", "run_id"],
        unique=False,
    )


def _run_tags() -> None:
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_tags_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "tag", name=op.f("pk_run_tags")),
    )
    op.create_index(op.f("ix_run_tags_tag"), "run_tags", ["tag"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_run_tags_tag"), table_name="run_tags")
    op.drop_table("run_tags")
    op.drop_index(op.f("ix_run_metrics_name_strategy_value_run_id"), table_name="run_metrics")
    op.drop_index(op.f("ix_run_metrics_name_symbol_value_run_id"), table_name="run_metrics")
    op.drop_index(op.f("ix_run_metrics_name_value_run_id"), table_name="run_metrics")
    op.drop_table("run_metrics")
    op.drop_index(op.f("ix_runs_symbol_created"), table_name="runs")
    op.drop_index(op.f("ix_runs_strategy_created"), table_name="runs")
    op.drop_index(op.f("ix_runs_created"), table_name="runs")
    op.drop_table("runs")
    op.drop_index(op.f("ix_optimizations_strategy"), table_name="optimizations")
    op.drop_index(op.f("ix_optimizations_kind"), table_name="optimizations")
    op.drop_index(op.f("ix_optimizations_created"), table_name="optimizations")
    op.drop_table("optimizations")
    op.drop_index(op.f("ix_jobs_state"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_kind"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_created"), table_name="jobs")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_backfill_audit_symbol"), table_name="backfill_audit")
    op.drop_index(op.f("ix_backfill_audit_created"), table_name="backfill_audit")
    op.drop_table("backfill_audit")
    op.drop_table("artifacts")

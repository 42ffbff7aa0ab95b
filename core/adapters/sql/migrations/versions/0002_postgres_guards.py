"""PostgreSQL guards: append-only events and postings; balanced transactions checked at commit.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION ketpaar_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ketpaar: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'raise_exception';
END $$ LANGUAGE plpgsql;
"""

# Deferred to commit time, as django-hordak does, so a transaction's postings may be
# inserted one by one and still be checked as a whole.
_BALANCED = """
CREATE OR REPLACE FUNCTION ketpaar_check_balanced() RETURNS trigger AS $$
DECLARE total BIGINT;
BEGIN
    SELECT COALESCE(SUM(amount), 0) INTO total FROM postings WHERE tx_id = NEW.tx_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ketpaar: ledger transaction % is unbalanced by % paise', NEW.tx_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: the code checks balance; the file is the embedded single-node default
    op.execute(_APPEND_ONLY)
    op.execute(_BALANCED)
    for table in ("events", "postings", "ledger_transactions"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ketpaar_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ketpaar_refuse_change()"
        )
    op.execute(
        "CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ketpaar_check_balanced()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS postings_balanced ON postings")
    for table in ("events", "postings", "ledger_transactions"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ketpaar_check_balanced()")
    op.execute("DROP FUNCTION IF EXISTS ketpaar_refuse_change()")

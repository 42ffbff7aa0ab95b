"""Claiming a batch of the inbox on PostgreSQL is one function call that plans the same way whatever
the table's statistics say, and takes the senders' advisory locks in the same statement.

The claim reads pending rows in id order and keeps each sender's oldest. Planned on statistics
taken in a calm period (few rows pending), PostgreSQL read every pending row through a bitmap scan,
probed each one's sender and sorted them all, to return 16: 23 ms a claim on average while a
14,000-message backlog drained (56 ms at its start), against 0.3 ms once the statistics caught
up (autovacuum analyses at most once a minute). The function runs its query with bitmap scans,
sequential scans and sorts disabled, which leaves one plan: walk the pending rows' index in id
order and stop after `lim` of them (0.4 ms on the same stale statistics). Each row's "is this its
sender's oldest?" is a row comparison that only the (channel, address, id) index can answer: with
an equality on the sender instead, stale statistics made PostgreSQL answer it by walking the
pending rows in id order from the start. The settings apply only inside the function (its SET
clauses), so nothing else in the transaction is planned with them.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

# The advisory lock is the one `InboxRepo.lock_sender` takes: the one-sender path and the batch
# path never hold one sender at once. A sender whose lock another transaction holds is left out
# (its row stays locked by this transaction until it ends, as before, and is not processed).
_CLAIM = """
CREATE OR REPLACE FUNCTION ketpaar_claim_inbox(lim integer, skip text[])
RETURNS TABLE (claimed_id integer, claimed_channel varchar, claimed_address varchar, claimed_payload text)
LANGUAGE plpgsql
SET enable_bitmapscan = off SET enable_seqscan = off SET enable_sort = off
AS $$
BEGIN
    RETURN QUERY
    WITH claimed AS MATERIALIZED (
        SELECT i.id, i.channel, i.address, i.payload FROM inbox AS i
        WHERE i.status = 'pending' AND NOT (i.channel = ANY (skip))
          AND i.id = (SELECT o.id FROM inbox AS o
                      WHERE o.status = 'pending' AND (o.channel, o.address, o.id) >= (i.channel, i.address, 0)
                      ORDER BY o.channel, o.address, o.id LIMIT 1)
        ORDER BY i.id LIMIT lim
        FOR UPDATE OF i SKIP LOCKED
    )
    SELECT c.id, c.channel, c.address, c.payload FROM claimed AS c
    WHERE pg_try_advisory_xact_lock(hashtext('inbox:' || c.channel || ':' || c.address));
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CLAIM)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ketpaar_claim_inbox(integer, text[])")

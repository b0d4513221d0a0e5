"""access changes move the data version

The data version becomes the audit chain's length plus `audit_chain_head.access_changes`,
which triggers count up whenever a signed-in session ends or changes hands (its row's
`ended_at`, `token_hash` or `user_id` changes, or a live session's row is deleted) and
whenever an account's activation, session version, role, state or language changes (or the
account is deleted; on PostgreSQL also a TRUNCATE of either table): however the change is
made, through the services or by hand in SQL. A signed-in reader's kept page is then valid
exactly as long as the data version it was kept under, and needs no read of its session
(portal/reader_pages.py). On PostgreSQL the head's notification announces the sum, so each
worker's watch hears of an ended session within milliseconds (portal/version_watch.py).

A later migration that rebuilds either table on SQLite (as Alembic's batch mode does) must
create these triggers again: the tests of tests/test_reader_pages.py fail otherwise.

Counting takes the head's row lock, like appending an audit event; a session ends rarely.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COUNT = "UPDATE audit_chain_head SET access_changes = access_changes + 1"

USERS = ("active", "session_version", "role", "state_id", "locale")
SESSIONS = ("ended_at", "token_hash", "user_id")


def _changed(columns):
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


#: (trigger, event, table, condition on OLD and NEW, or None for every row).
TRIGGERS = (
    ("users_access_changed", f"UPDATE OF {', '.join(USERS)}", "users", _changed(USERS)),
    ("users_deleted", "DELETE", "users", None),
    ("user_sessions_ended", f"UPDATE OF {', '.join(SESSIONS)}", "user_sessions",
     _changed(SESSIONS)),
    ("user_sessions_deleted", "DELETE", "user_sessions", "OLD.ended_at IS NULL"),
)
#: PostgreSQL only: TRUNCATE fires no row triggers.
TRUNCATE_TRIGGERS = (("users_truncated", "users"), ("user_sessions_truncated", "user_sessions"))


def upgrade():
    with op.batch_alter_table('audit_chain_head', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('access_changes', sa.Integer(), server_default='0', nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_postgresql():
    op.execute(
        f"""
        CREATE FUNCTION portal_access_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {COUNT};
            RETURN NULL;
        END
        $$
        """
    )
    for name, event, table, condition in TRIGGERS:
        when = f"WHEN ({condition})" if condition else ""
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} "
            f"FOR EACH ROW {when} EXECUTE FUNCTION portal_access_changed()"
        )
    for name, table in TRUNCATE_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION portal_access_changed()"
        )
    _notify("NEW.length + NEW.access_changes")


def _upgrade_sqlite():
    for name, event, table, condition in TRIGGERS:
        # SQLite spells IS DISTINCT FROM as IS NOT.
        when = f"WHEN {condition.replace('IS DISTINCT FROM', 'IS NOT')}" if condition else ""
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when} "
            f"BEGIN {COUNT}; END"
        )


def _notify(version):
    """Migration 0007's announcement of the head's change, announcing `version`."""
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION portal_data_version_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('portal_data_version', '0');
            ELSE
                PERFORM pg_notify('portal_data_version', ({version})::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        for name, table in TRUNCATE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION portal_access_changed()")
        _notify("NEW.length")
    with op.batch_alter_table('audit_chain_head', schema=None) as batch_op:
        batch_op.drop_column('access_changes')

"""data version notifications

PostgreSQL only: every change of the audit chain's head announces its length on the
`portal_data_version` channel when its transaction commits, so each worker learns of a change
made anywhere without reading the head for every kept page (portal/version_watch.py).
One notification per audit event (a change that records several sends several); NOTIFY
takes a server-wide lock at commit, which the head's row lock already serialises here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 22:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION portal_data_version_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('portal_data_version', '0');
            ELSE
                PERFORM pg_notify('portal_data_version', NEW.length::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_chain_head_notify
        AFTER INSERT OR UPDATE OR DELETE ON audit_chain_head
        FOR EACH ROW EXECUTE FUNCTION portal_data_version_notify()
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER audit_chain_head_notify ON audit_chain_head")
    op.execute("DROP FUNCTION portal_data_version_notify()")

"""Analytics: indexes and rollups the merchant analytics need (issue 7).

Indexes serve the figures read from raw rows: attributed orders by paid time (partial,
covering on PostgreSQL: the claims' referred orders), clicks by time, rewards by the time they
were issued and redeemed.

`analytics_customer_orders` holds each counted order beside its customer's history (see
`referral_plugin.models.analytics`). Triggers keep it equal to the raw rows, in the transaction
of every change: a change to an order (`conversions`) or to a referral (`referrals`) recomputes
all rows of each customer it touches, before and after the change. A counted order is paid,
has a paid time, is neither cancelled nor a test; a customer is an identity email, else a
customer id, else (an order we cannot match to anyone, such as one whose customer was
redacted) the order itself; a customer was acquired by a program when their first counted
order has a referral of that program that is converted or reversed.

PostgreSQL: one statement-level trigger per table and operation (transition tables, so the
bulk order path recomputes a chunk's customers in one pass). Two transactions changing one
customer at once would each recompute without the other's uncommitted change, so the function
first takes a transaction-level advisory lock per customer (in key order); a statement touching
more than 1,000 orders (a shop erasure, a bulk load) takes one exclusive lock on the shop
instead, which every smaller statement holds shared. SQLite has a single writer and row-level
triggers only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
FACTS = "analytics_customer_orders"
FACT_COLUMNS = (
    "conversion_id, shop_id, paid_at, total, net, currency, referral_program_id, "
    "referral_advocate_id, first_paid_at, previous_paid_at, acquired_by_program_id"
)
# The columns of an order the fact rows depend on, and those of a referral.
ORDER_INPUTS = (
    "shop_id", "identity_email", "customer_id", "paid", "paid_at", "cancelled", "is_test",
    "total", "refunded_total", "currency",
)  # fmt: skip
REFERRAL_INPUTS = ("conversion_id", "status", "program_id", "advocate_id")
# The referred orders among the fact rows, covering what their figures read.
REFERRED = "referral_program_id IS NOT NULL"
REFERRED_COLUMNS = ("referral_program_id", "referral_advocate_id", "total", "net", "currency")
# Rewards by the time they were issued / redeemed, covering the reward-cost figures.
REWARD_MOMENTS = {
    "issued_at": ("value", "currency", "status", "program_id"),
    "redeemed_at": ("value", "currency", "program_id"),
}
# Attributed orders by paid time, covering what the friends' conversion reads.
ATTRIBUTED = "advocate_id IS NOT NULL"
ATTRIBUTED_ORDER_COLUMNS = ("id", "identity_email", "paid", "cancelled", "is_test")
CUSTOMER = (
    "m.shop_id, m.identity_email, CASE WHEN m.identity_email IS NULL THEN m.customer_id END, "
    "CASE WHEN m.identity_email IS NULL AND m.customer_id IS NULL THEN m.id END"
)


def fact_rows(source: str, where: str) -> str:
    """SELECT of the fact rows of the counted orders `m` of `source` matching `where`."""
    return f"""
        SELECT m.id, m.shop_id, m.paid_at, m.total, m.total - m.refunded_total, m.currency,
               r.program_id, r.advocate_id, first_value(m.paid_at) OVER customer,
               lag(m.paid_at) OVER customer, first_value(r.program_id) OVER customer
        FROM {source} AS m
        LEFT JOIN referrals AS r
            ON r.conversion_id = m.id AND r.status IN ('converted', 'reversed')
        WHERE m.paid AND m.paid_at IS NOT NULL AND NOT m.cancelled AND NOT m.is_test
            AND {where}
        WINDOW customer AS (PARTITION BY {CUSTOMER} ORDER BY m.paid_at, m.id)"""


def _differs(columns: tuple[str, ...]) -> str:
    """SQL: a row of `n` differs from its `o` row in one of `columns` (PostgreSQL)."""
    return (
        f"({', '.join(f'n.{c}' for c in columns)}) "
        f"IS DISTINCT FROM ({', '.join(f'o.{c}' for c in columns)})"
    )


# The statements recomputing the customers named by the function's arrays (`changed` order
# ids, and their shops, identity emails and customer ids): delete the fact rows of the changed
# orders and of every order of those customers, then insert them again.
MEMBERS = """
    WITH touched AS (
        SELECT DISTINCT s AS shop_id, e AS identity_email,
            CASE WHEN e IS NULL THEN c END AS customer_id,
            CASE WHEN e IS NULL AND c IS NULL THEN o END AS order_id
        FROM unnest({shops}, {emails}, {customer_ids}, {changed}) AS t(s, e, c, o)
    ), members AS (
        SELECT c.* FROM touched t JOIN conversions c
            ON c.shop_id = t.shop_id AND c.identity_email = t.identity_email
        WHERE t.identity_email IS NOT NULL
        UNION ALL
        SELECT c.* FROM touched t JOIN conversions c
            ON c.shop_id = t.shop_id AND c.customer_id = t.customer_id
        WHERE t.identity_email IS NULL AND c.identity_email IS NULL
        UNION ALL
        SELECT c.* FROM touched t JOIN conversions c ON c.id = t.order_id
        WHERE c.identity_email IS NULL AND c.customer_id IS NULL
    )"""
RECOMPUTE = (
    MEMBERS
    + f"""
    DELETE FROM {FACTS}
    WHERE conversion_id IN (SELECT unnest({{changed}}) UNION SELECT id FROM members)""",
    MEMBERS
    + f"""
    INSERT INTO {FACTS} ({FACT_COLUMNS}) {fact_rows("members", "TRUE")}""",
)
# After an INSERT no fact row can go away (a new order or referral only adds to a customer):
# one upsert of the customers' rows is enough.
UPSERT = (
    RECOMPUTE[1]
    + """
    ON CONFLICT (conversion_id) DO UPDATE SET """
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in FACT_COLUMNS.split(", ")[1:])
)
BY_NAME = {
    "changed": "changed",
    "shops": "shops",
    "emails": "emails",
    "customer_ids": "customer_ids",
}
BY_NUMBER = {"changed": "$1", "shops": "$2", "emails": "$3", "customer_ids": "$4"}
SHOP_KEY = "hashtextextended('analytics-shop', s)"
CUSTOMER_KEY = "hashtextextended(coalesce(e, 'customer-id:' || c, 'order:' || o), s)"
# A few customers (the order paths): static statements, whose generic plans are cached for the
# session (planning them costs more than running them). Many (a bulk load, a shop erasure):
# EXECUTE, planned for the arrays at hand.
POSTGRES_REFRESH = f"""
CREATE FUNCTION analytics_refresh_customers(
    changed bigint[], shops bigint[], emails text[], customer_ids text[], added boolean
) RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF cardinality(changed) > 1000 THEN
        PERFORM pg_advisory_xact_lock(k) FROM (
            SELECT DISTINCT {SHOP_KEY} AS k FROM unnest(shops) AS t(s) ORDER BY 1) AS keys;
        -- After the locks (READ COMMITTED): each statement sees what was committed before.
        EXECUTE $sql${RECOMPUTE[0].format(**BY_NUMBER)}$sql$
            USING changed, shops, emails, customer_ids;
        EXECUTE $sql${RECOMPUTE[1].format(**BY_NUMBER)}$sql$
            USING changed, shops, emails, customer_ids;
        RETURN;
    END IF;
    -- The shops shared, then each customer alone, in key order (one statement).
    PERFORM CASE WHEN shared THEN pg_advisory_xact_lock_shared(k) ELSE pg_advisory_xact_lock(k) END
    FROM (
        SELECT true AS shared, {SHOP_KEY} AS k FROM unnest(shops) AS t(s)
        UNION
        SELECT false, {CUSTOMER_KEY} FROM unnest(shops, emails, customer_ids, changed) AS t(s, e, c, o)
    ) AS keys ORDER BY shared DESC, k;
    IF added THEN
        {UPSERT.format(**BY_NAME)};
        RETURN;
    END IF;
    {RECOMPUTE[0].format(**BY_NAME)};
    {RECOMPUTE[1].format(**BY_NAME)};
END $$"""
# The orders a statement changed: (id, shop, identity email, customer id) arrays.
ORDER_ARRAYS = (
    "array_agg(id), array_agg(shop_id), array_agg(identity_email), array_agg(customer_id)"
)
POSTGRES_ORDERS_CHANGED = f"""
CREATE FUNCTION analytics_conversions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_refresh_customers({ORDER_ARRAYS}, true)
        FROM new_rows HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM analytics_refresh_customers({ORDER_ARRAYS}, false)
        FROM old_rows HAVING count(*) > 0;
    ELSE
        PERFORM analytics_refresh_customers({ORDER_ARRAYS}, false) FROM (
            SELECT n.id, n.shop_id, n.identity_email, n.customer_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(ORDER_INPUTS)}
            UNION ALL
            SELECT o.id, o.shop_id, o.identity_email, o.customer_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(ORDER_INPUTS)}
        ) AS changed HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$"""
POSTGRES_REFERRALS_CHANGED = f"""
CREATE FUNCTION analytics_referrals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orders bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        orders := array(SELECT conversion_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        orders := array(SELECT conversion_id FROM old_rows);
    ELSE
        orders := array(
            SELECT n.conversion_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(REFERRAL_INPUTS)}
            UNION
            SELECT o.conversion_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(REFERRAL_INPUTS)});
    END IF;
    PERFORM analytics_refresh_customers({ORDER_ARRAYS}, TG_OP = 'INSERT')
    FROM conversions WHERE id = ANY(orders) HAVING count(*) > 0;
    RETURN NULL;
END $$"""
POSTGRES_TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}
POSTGRES_FUNCTIONS = {
    "conversions": "analytics_conversions_changed",
    "referrals": "analytics_referrals_changed",
}


def _sqlite_refresh(order: dict[str, str]) -> str:
    """Statements recomputing the fact rows of the customer of one order, whose shop_id,
    identity_email, customer_id and id are the SQL expressions in `order`."""
    shop, email, customer, order_id = (
        order[k] for k in ("shop_id", "identity_email", "customer_id", "id")
    )

    def member(m: str) -> str:
        return f"""{m}shop_id = {shop} AND (
            ({email} IS NOT NULL AND {m}identity_email = {email})
            OR ({email} IS NULL AND {customer} IS NOT NULL
                AND {m}identity_email IS NULL AND {m}customer_id = {customer})
            OR ({email} IS NULL AND {customer} IS NULL AND {m}id = {order_id}))"""

    return f"""
        DELETE FROM {FACTS}
        WHERE conversion_id IN (SELECT id FROM conversions WHERE {member("")});
        INSERT INTO {FACTS} ({FACT_COLUMNS}) {fact_rows("conversions", member("m."))};"""


def _sqlite_order(row: str) -> dict[str, str]:
    """The order expressions of a conversions trigger row (NEW or OLD)."""
    return {k: f"{row}.{k}" for k in ("shop_id", "identity_email", "customer_id", "id")}


def _sqlite_referral_order(row: str) -> dict[str, str]:
    """The order expressions of a referrals trigger row: its conversion, looked up."""
    return {
        k: f"(SELECT {k} FROM conversions WHERE id = {row}.conversion_id)"
        for k in ("shop_id", "identity_email", "customer_id", "id")
    }


def _sqlite_when(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


SQLITE_TRIGGERS = {
    "analytics_conversions_insert": (
        f"AFTER INSERT ON conversions BEGIN {_sqlite_refresh(_sqlite_order('NEW'))} END"
    ),
    "analytics_conversions_update": f"""AFTER UPDATE ON conversions WHEN {_sqlite_when(ORDER_INPUTS)}
        BEGIN DELETE FROM {FACTS} WHERE conversion_id = OLD.id;
        {_sqlite_refresh(_sqlite_order("OLD"))} {_sqlite_refresh(_sqlite_order("NEW"))} END""",
    "analytics_conversions_delete": f"""AFTER DELETE ON conversions BEGIN
        DELETE FROM {FACTS} WHERE conversion_id = OLD.id;
        {_sqlite_refresh(_sqlite_order("OLD"))} END""",
    "analytics_referrals_insert": (
        f"AFTER INSERT ON referrals BEGIN {_sqlite_refresh(_sqlite_referral_order('NEW'))} END"
    ),
    "analytics_referrals_update": f"""AFTER UPDATE ON referrals
        WHEN {_sqlite_when(REFERRAL_INPUTS)} BEGIN
        {_sqlite_refresh(_sqlite_referral_order("OLD"))}
        {_sqlite_refresh(_sqlite_referral_order("NEW"))} END""",
    "analytics_referrals_delete": (
        f"AFTER DELETE ON referrals BEGIN {_sqlite_refresh(_sqlite_referral_order('OLD'))} END"
    ),
}


def upgrade() -> None:
    op.create_table(
        FACTS,
        sa.Column("conversion_id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("paid_at", TIME, nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("net", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("referral_program_id", ID, nullable=True),
        sa.Column("referral_advocate_id", ID, nullable=True),
        sa.Column("first_paid_at", TIME, nullable=False),
        sa.Column("previous_paid_at", TIME, nullable=True),
        sa.Column("acquired_by_program_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["conversions.id"],
            name=op.f(f"fk_{FACTS}_conversion_id_conversions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f(f"fk_{FACTS}_shop_id_shops")),
        sa.PrimaryKeyConstraint("conversion_id", name=op.f(f"pk_{FACTS}")),
    )
    op.create_index(
        f"ix_{FACTS}_shop_id_paid_at",
        FACTS,
        ["shop_id", "paid_at"],
        postgresql_include=[
            "previous_paid_at",
            "first_paid_at",
            "acquired_by_program_id",
            "net",
            "currency",
        ],
    )
    op.create_index(
        f"ix_{FACTS}_shop_id_paid_at_referred",
        FACTS,
        ["shop_id", "paid_at"],
        postgresql_where=sa.text(REFERRED),
        sqlite_where=sa.text(REFERRED),
        postgresql_include=list(REFERRED_COLUMNS),
    )
    op.execute(f"INSERT INTO {FACTS} ({FACT_COLUMNS}) {fact_rows('conversions', '1 = 1')}")
    op.create_index(
        "ix_conversions_shop_id_paid_at_attributed",
        "conversions",
        ["shop_id", "paid_at"],
        postgresql_where=sa.text(ATTRIBUTED),
        sqlite_where=sa.text(ATTRIBUTED),
        postgresql_include=list(ATTRIBUTED_ORDER_COLUMNS),
    )
    for moment, included in REWARD_MOMENTS.items():
        op.create_index(
            f"ix_rewards_shop_id_{moment}",
            "rewards",
            ["shop_id", moment],
            postgresql_include=list(included),
        )
    op.create_index(
        "ix_clicks_shop_id_created_at",
        "clicks",
        ["shop_id", "created_at"],
        postgresql_include=["code_id"],
    )
    if op.get_bind().dialect.name != "postgresql":
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        return
    for function in (POSTGRES_REFRESH, POSTGRES_ORDERS_CHANGED, POSTGRES_REFERRALS_CHANGED):
        op.execute(function)
    for table, function in POSTGRES_FUNCTIONS.items():
        for operation, transition in POSTGRES_TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER analytics_{table}_{operation.lower()} AFTER {operation} "
                f"ON {table} {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in POSTGRES_FUNCTIONS:  # the trigger names are the same on both databases
        for operation in POSTGRES_TRANSITIONS:
            name = f"analytics_{table}_{operation.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    if postgres:
        for function in POSTGRES_FUNCTIONS.values():
            op.execute(f"DROP FUNCTION {function}()")
        op.execute(
            "DROP FUNCTION analytics_refresh_customers(bigint[], bigint[], text[], text[], boolean)"
        )
    op.drop_index("ix_clicks_shop_id_created_at", table_name="clicks")
    for moment in REWARD_MOMENTS:
        op.drop_index(f"ix_rewards_shop_id_{moment}", table_name="rewards")
    op.drop_index("ix_conversions_shop_id_paid_at_attributed", table_name="conversions")
    op.drop_index(f"ix_{FACTS}_shop_id_paid_at_referred", table_name=FACTS)
    op.drop_index(f"ix_{FACTS}_shop_id_paid_at", table_name=FACTS)
    op.drop_table(FACTS)

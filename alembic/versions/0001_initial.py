"""Initial schema: every table of referral_plugin.models.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# BIGINT keys on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table, referenced tables first."""
    op.create_table(
        "shops",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("api_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shops")),
        sa.UniqueConstraint("api_token_hash", name=op.f("uq_shops_api_token_hash")),
        sa.UniqueConstraint("platform", "domain", name=op.f("uq_shops_platform_domain")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject_type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_audit_log_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_shop_id_created_at", "audit_log", ["shop_id", "created_at"], unique=False
    )

    op.create_table(
        "order_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_order_events_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint(
            "shop_id",
            "order_id",
            "idempotency_key",
            name=op.f("uq_order_events_shop_id_order_id_idempotency_key"),
        ),
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_outbox_messages_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint(
            "shop_id", "dedup_key", name=op.f("uq_outbox_messages_shop_id_dedup_key")
        ),
    )
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at",
        "outbox_messages",
        ["status", "next_attempt_at"],
        unique=False,
    )

    op.create_table(
        "programs",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_programs_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
    )
    op.create_index("ix_programs_shop_id_status", "programs", ["shop_id", "status"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_webhook_deliveries_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "platform",
            "shop_id",
            "dedup_key",
            name=op.f("uq_webhook_deliveries_platform_shop_id_dedup_key"),
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_shop_id_received_at",
        "webhook_deliveries",
        ["shop_id", "received_at"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )

    op.create_table(
        "advocates",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("identity_email", sa.String(length=320), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("debt", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("successful_referrals", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_advocates_program_id_programs")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_advocates_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocates")),
        sa.UniqueConstraint(
            "program_id", "identity_email", name=op.f("uq_advocates_program_id_identity_email")
        ),
    )
    op.create_index(
        "ix_advocates_shop_id_customer_id", "advocates", ["shop_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_advocates_shop_id_identity_email",
        "advocates",
        ["shop_id", "identity_email"],
        unique=False,
    )
    op.create_index(
        "ix_advocates_shop_id_program_id", "advocates", ["shop_id", "program_id"], unique=False
    )

    op.create_table(
        "conversions",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("identity_email", sa.String(length=320), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("refunded_total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("advocate_id", ID, nullable=True),
        sa.Column("program_id", ID, nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("fraud", sa.JSON(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f("fk_conversions_advocate_id_advocates")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_conversions_program_id_programs")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_conversions_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint("shop_id", "order_id", name=op.f("uq_conversions_shop_id_order_id")),
    )
    op.create_index(
        "ix_conversions_shop_id_advocate_id",
        "conversions",
        ["shop_id", "advocate_id"],
        unique=False,
    )
    op.create_index(
        "ix_conversions_shop_id_customer_id",
        "conversions",
        ["shop_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        "ix_conversions_shop_id_identity_email",
        "conversions",
        ["shop_id", "identity_email"],
        unique=False,
    )

    op.create_table(
        "referrals",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=False),
        sa.Column("conversion_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f("fk_referrals_advocate_id_advocates")
        ),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["conversions.id"],
            name=op.f("fk_referrals_conversion_id_conversions"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_referrals_program_id_programs")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_referrals_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("conversion_id", name=op.f("uq_referrals_conversion_id")),
    )
    op.create_index(
        "ix_referrals_shop_id_advocate_id_created_at",
        "referrals",
        ["shop_id", "advocate_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_referrals_shop_id_status", "referrals", ["shop_id", "status"], unique=False)

    op.create_table(
        "rewards",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("referral_id", ID, nullable=True),
        sa.Column("conversion_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=True),
        sa.Column("beneficiary", sa.String(length=16), nullable=False),
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("nominal_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("debt_offset", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("store_code", sa.String(length=64), nullable=True),
        sa.Column("store_ref", sa.String(length=255), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversal_reason", sa.String(length=255), nullable=True),
        sa.Column("revoke_state", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clawed_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f("fk_rewards_advocate_id_advocates")
        ),
        sa.ForeignKeyConstraint(
            ["conversion_id"], ["conversions.id"], name=op.f("fk_rewards_conversion_id_conversions")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_rewards_program_id_programs")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_rewards_referral_id_referrals")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_rewards_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
        sa.UniqueConstraint(
            "conversion_id",
            "beneficiary",
            "rule_key",
            name=op.f("uq_rewards_conversion_id_beneficiary_rule_key"),
        ),
    )
    op.create_index(
        "ix_rewards_shop_id_advocate_id", "rewards", ["shop_id", "advocate_id"], unique=False
    )
    op.create_index("ix_rewards_shop_id_status", "rewards", ["shop_id", "status"], unique=False)
    op.create_index(
        "ix_rewards_status_hold_until", "rewards", ["status", "hold_until"], unique=False
    )

    op.create_table(
        "charity_ledger",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("charity", sa.String(length=200), nullable=False),
        sa.Column("reward_id", ID, nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_charity_ledger_program_id_programs")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_charity_ledger_reward_id_rewards")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_charity_ledger_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charity_ledger")),
        sa.UniqueConstraint("reward_id", name=op.f("uq_charity_ledger_reward_id")),
    )
    op.create_index(
        "ix_charity_ledger_shop_id_program_id",
        "charity_ledger",
        ["shop_id", "program_id"],
        unique=False,
    )

    op.create_table(
        "codes",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=True),
        sa.Column("reward_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("normalized", sa.String(length=64), nullable=False),
        sa.Column("friend_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f("fk_codes_advocate_id_advocates")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_codes_program_id_programs")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_codes_reward_id_rewards")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_codes_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codes")),
        sa.UniqueConstraint("shop_id", "normalized", name=op.f("uq_codes_shop_id_normalized")),
    )
    op.create_index(
        "ix_codes_shop_id_advocate_id", "codes", ["shop_id", "advocate_id"], unique=False
    )

    op.create_table(
        "reward_ledger",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=False),
        sa.Column("reward_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f("fk_reward_ledger_advocate_id_advocates")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_reward_ledger_reward_id_rewards")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_reward_ledger_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_ledger")),
    )
    op.create_index(
        "ix_reward_ledger_shop_id_advocate_id",
        "reward_ledger",
        ["shop_id", "advocate_id"],
        unique=False,
    )

    op.create_table(
        "claims",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("advocate_id", ID, nullable=False),
        sa.Column("identity_email", sa.String(length=320), nullable=False),
        sa.Column("code_id", ID, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"], ["advocates.id"], name=op.f("fk_claims_advocate_id_advocates")
        ),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_claims_code_id_codes")),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_claims_program_id_programs")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_claims_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint(
            "program_id", "identity_email", name=op.f("uq_claims_program_id_identity_email")
        ),
    )
    op.create_index(
        "ix_claims_shop_id_identity_email", "claims", ["shop_id", "identity_email"], unique=False
    )

    op.create_table(
        "clicks",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("code_id", ID, nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("landing_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_clicks_code_id_codes")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_clicks_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    op.create_index(
        "ix_clicks_shop_id_code_id_created_at",
        "clicks",
        ["shop_id", "code_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop every table, dependents first (their indexes go with them)."""
    op.drop_table("clicks")
    op.drop_table("claims")
    op.drop_table("reward_ledger")
    op.drop_table("codes")
    op.drop_table("charity_ledger")
    op.drop_table("rewards")
    op.drop_table("referrals")
    op.drop_table("conversions")
    op.drop_table("advocates")
    op.drop_table("webhook_deliveries")
    op.drop_table("programs")
    op.drop_table("outbox_messages")
    op.drop_table("order_events")
    op.drop_table("audit_log")
    op.drop_table("shops")

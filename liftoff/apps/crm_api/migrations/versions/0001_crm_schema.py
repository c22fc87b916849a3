"""The CRM schema: the five entities, opt-outs and API keys (hashed).

Revision ID: 0001
Revises: (none: the first)
Create Date: 2026-11-29 07:29:11.556360
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("api_key_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("key_sha256", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("api_key_id"),
        sa.UniqueConstraint("key_sha256"),
        schema="crm",
    )
    op.create_table(
        "customers",
        sa.Column(
            "customer_id", sa.BigInteger(), sa.Identity(always=False, start=1000000000000), nullable=False
        ),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("customer_id"),
        schema="crm",
    )
    op.create_index(
        "customers_live_email_key",
        "customers",
        ["email"],
        unique=True,
        schema="crm",
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.create_index("customers_updated_at_idx", "customers", ["updated_at"], unique=False, schema="crm")
    op.create_table(
        "employees",
        sa.Column(
            "employee_id", sa.BigInteger(), sa.Identity(always=False, start=1000000000000), nullable=False
        ),
        sa.Column("manager_id", sa.BigInteger(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("job_title", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("gender", sa.Text(), nullable=False),
        sa.Column("nationality", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("termination_date", sa.Date(), nullable=True),
        sa.Column("salary", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["crm.employees.employee_id"],
        ),
        sa.PrimaryKeyConstraint("employee_id"),
        schema="crm",
    )
    op.create_index(
        "employees_live_email_key",
        "employees",
        ["email"],
        unique=True,
        schema="crm",
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.create_index("employees_updated_at_idx", "employees", ["updated_at"], unique=False, schema="crm")
    op.create_table(
        "suppliers",
        sa.Column(
            "supplier_id", sa.BigInteger(), sa.Identity(always=False, start=1000000000000), nullable=False
        ),
        sa.Column("company_name", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=False),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("product_categories", sa.Text(), nullable=False),
        sa.Column("primary_product", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("supplier_id"),
        schema="crm",
    )
    op.create_index("suppliers_updated_at_idx", "suppliers", ["updated_at"], unique=False, schema="crm")
    op.create_table(
        "opt_outs",
        sa.Column(
            "opt_out_id", sa.BigInteger(), sa.Identity(always=False, start=1000000000000), nullable=False
        ),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm.customers.customer_id"],
        ),
        sa.PrimaryKeyConstraint("opt_out_id"),
        schema="crm",
    )
    op.create_index("opt_outs_updated_at_idx", "opt_outs", ["updated_at"], unique=False, schema="crm")
    op.create_table(
        "products",
        sa.Column(
            "product_id", sa.BigInteger(), sa.Identity(always=False, start=1000000000000), nullable=False
        ),
        sa.Column("supplier_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("categoria", sa.Text(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("email_fornecedor", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["crm.suppliers.supplier_id"],
        ),
        sa.PrimaryKeyConstraint("product_id"),
        schema="crm",
    )
    op.create_index("products_updated_at_idx", "products", ["updated_at"], unique=False, schema="crm")
    op.create_table(
        "sales",
        sa.Column("sale_id", sa.BigInteger(), sa.Identity(always=False, start=1000000000000), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("email_employee", sa.Text(), nullable=False),
        sa.Column("email_customer", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=False),
        sa.Column("name_product", sa.Text(), nullable=False),
        sa.Column("unit_price", sa.Double(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm.customers.customer_id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["crm.products.product_id"],
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"],
            ["crm.employees.employee_id"],
        ),
        sa.PrimaryKeyConstraint("sale_id"),
        schema="crm",
    )
    op.create_index("sales_updated_at_idx", "sales", ["updated_at"], unique=False, schema="crm")


def downgrade() -> None:
    op.drop_index("sales_updated_at_idx", table_name="sales", schema="crm")
    op.drop_table("sales", schema="crm")
    op.drop_index("products_updated_at_idx", table_name="products", schema="crm")
    op.drop_table("products", schema="crm")
    op.drop_index("opt_outs_updated_at_idx", table_name="opt_outs", schema="crm")
    op.drop_table("opt_outs", schema="crm")
    op.drop_index("suppliers_updated_at_idx", table_name="suppliers", schema="crm")
    op.drop_table("suppliers", schema="crm")
    op.drop_index("employees_updated_at_idx", table_name="employees", schema="crm")
    op.drop_index(
        "employees_live_email_key",
        table_name="employees",
        schema="crm",
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.drop_table("employees", schema="crm")
    op.drop_index("customers_updated_at_idx", table_name="customers", schema="crm")
    op.drop_index(
        "customers_live_email_key",
        table_name="customers",
        schema="crm",
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.drop_table("customers", schema="crm")
    op.drop_table("api_keys", schema="crm")

"""The warehouse's own schemas (raw, quality, campaign), owned by Alembic.

The loader, the quality gate and the campaign write these tables themselves, so their shape is
versioned here: every change is a migration in `migrations/versions`, and `migrate.upgrade` brings
any warehouse, new or years old, to the latest one in place, data kept. The dbt layers (bronze,
silver, gold, audit) are owned by dbt: their models are the DDL, rebuilt or altered by `dbt build`.
Who may read them is `roles` (the read-only dashboard and analyst roles, and their `access` schema).
"""

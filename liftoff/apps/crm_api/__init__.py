"""The CRM data-entry API: employees, products, sales, suppliers, customers and opt-outs.

FastAPI over the CRM's own operational database (`crm` connection, schema `crm`), separate from
the warehouse. Every write is checked by the same contracts ingestion uses (`liftoff.contracts`);
rows carry created_at/updated_at and are deleted softly (deleted_at), so the ingest DAG's Airbyte
connector (`include/airbyte/crm/manifest.yaml`, `liftoff.ingest.airbyte_extract`) can read what
changed on a day through this API by its updated_at watermark.
"""

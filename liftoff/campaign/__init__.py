"""The cross-sell campaign as plain, typed Python: audience, copy, consent, delivery, send log.

The campaign DAG (`dags/cross_sell_campaign.py`) only wires these functions into tasks; tests and
the benchmark call them directly, without a scheduler.
"""

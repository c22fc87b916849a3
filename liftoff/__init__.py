"""LiftOff Data: the domain code of the platform (contracts, simulator, landing, loading).

Plain, typed Python that DAG files wire together and tests call without a scheduler.
"""

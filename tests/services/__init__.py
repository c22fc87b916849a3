"""Real local servers the tests start and stop (and documented test doubles where none can run)."""

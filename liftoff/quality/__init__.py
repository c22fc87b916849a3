"""The quality gate: Great Expectations suites on silver and gold that decide, for each logical day,
whether the data may reach customers (see `suites` for what is checked, `gate` for how)."""

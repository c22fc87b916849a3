"""Benchmarks (`make bench`): each figure measured against a reference in the same run."""

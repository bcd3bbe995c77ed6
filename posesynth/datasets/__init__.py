"""Benchmark datasets, each reader in its own folder over types that sit below it."""

"""Data: video indexing and reading, frame pairs, backgrounds, labels and the synthetic generator."""

"""Experiments: benchmarks of the methods and their speed."""

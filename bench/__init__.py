"""Switchyard's reproducible benchmark: `python -m bench [--quick]` (see bench/run.py)."""

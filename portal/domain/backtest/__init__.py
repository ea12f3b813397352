"""Backtests: the facts stored with each decision, and replaying stored decisions through other versions."""

"""Analyses across runs: win rate, human agreement, annotation sheets."""

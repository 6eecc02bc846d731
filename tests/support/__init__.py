"""Helpers shared by the tests: synthetic videos with known truth."""

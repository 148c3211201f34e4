"""Hanoi planning-map service: the core domain package."""

__version__ = "0.1.0"

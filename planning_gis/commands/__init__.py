"""Subcommands of ``import_maps.py``, one module per concern."""

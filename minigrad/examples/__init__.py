"""Runnable demos: ``python -m minigrad.examples.<name>``."""

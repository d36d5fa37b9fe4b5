"""Whole models built from minigrad.nn."""
from minigrad.models.gpt import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig"]

"""Model backends: something that scores or answers task prompts."""

from econalign.backends.base import Backend, ChoiceScores, load_backend

__all__ = ["Backend", "ChoiceScores", "load_backend"]

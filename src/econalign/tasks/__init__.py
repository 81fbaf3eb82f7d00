"""Task families: each has a generator, an exact solver, a prompt renderer and an answer parser."""

from econalign.tasks.base import Task, solve
from econalign.tasks import bet, gamble, holt_laury, insurance

FAMILIES = {"gamble": gamble, "holt_laury": holt_laury, "insurance": insurance, "bet": bet}

__all__ = ["FAMILIES", "Task", "bet", "gamble", "holt_laury", "insurance", "solve"]

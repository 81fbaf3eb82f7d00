"""Task families: each has a generator, an exact solver, a prompt renderer and an answer parser."""

from econalign.tasks.base import Task, solve
from econalign.tasks import gamble, holt_laury

FAMILIES = {"gamble": gamble, "holt_laury": holt_laury}

__all__ = ["FAMILIES", "Task", "gamble", "holt_laury", "solve"]

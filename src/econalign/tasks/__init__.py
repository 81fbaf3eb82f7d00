"""Task families: each has a generator, an exact solver, a prompt renderer and an answer parser."""

from econalign.tasks import bet, budget, dilemma, forced_choice, gamble, games, giving, holt_laury, insurance, pair
from econalign.tasks.base import Task, solve

FAMILIES = {
    "gamble": gamble, "holt_laury": holt_laury, "insurance": insurance, "bet": bet, "games": games, "dilemma": dilemma,
    "budget": budget, "giving": giving, "pair": pair, "forced_choice": forced_choice,
}

__all__ = ["FAMILIES", "Task", "bet", "budget", "dilemma", "forced_choice", "gamble", "games", "giving", "holt_laury",
           "insurance", "pair", "solve"]

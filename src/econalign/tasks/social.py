"""What the social families (games, dilemmas) share: lettered menus of social options.

A social task lists options A, B, C, ...; `params["options"]` maps each letter to a
`SocialOption` (as a dict) and `params["labels"]` to the action it stands for ("give $20").
"""

from __future__ import annotations

from econalign.preferences.social import SocialOption, SocialPreference
from econalign.tasks.base import Task, parse_letter

PREFERENCE = SocialPreference
LETTERS = "ABCDEF"  # the longest game menu has six options


def menu_task(id: str, family: str, params: dict, question: str, menu: list[tuple[str, str, SocialOption, float]],
              system: str | None = None, letters: str = LETTERS) -> Task:
    """`menu`: (action, what it means for the players, option, level) in the order shown; the level
    places the action on a 0-1 scale of kindness (share given, or 1 for cooperate / accept / swerve).
    A family with longer menus passes its own `letters` (and parser)."""
    if len(menu) > len(letters):
        raise ValueError(f"{len(menu)} options need more letters than {letters!r}")
    letters = list(letters[: len(menu)])
    lines = [f"{letter}: {action} ({effect})" for letter, (action, effect, _, _) in zip(letters, menu)]
    column = dict(zip(("labels", "effects", "options", "levels"), zip(*menu)))
    column["options"] = [o.to_dict() for o in column["options"]]
    return Task(
        id=id,
        family=family,
        params={**params, "question": question, **{k: dict(zip(letters, v)) for k, v in column.items()}},
        prompt=f"{question}\n" + "\n".join(lines),
        options=letters,
        instruction=f"Answer with one letter: {', '.join(letters[:-1])} or {letters[-1]}.",
        system=system,
    )


def reversed_menu(task: Task) -> Task:
    """The same decision with the options listed in reverse order (position bias then cancels out)."""
    p = task.params
    menu = [(p["labels"][k], p["effects"][k], SocialOption.from_dict(p["options"][k]), p["levels"][k]) for k in task.options]
    rest = {k: v for k, v in p.items() if k not in ("question", "labels", "effects", "options", "levels", "reversed")}
    return menu_task(f"{task.id}-rev", task.family, {**rest, "reversed": True}, p["question"], menu[::-1], task.system)


def options(task: Task) -> dict[str, SocialOption]:
    return {label: SocialOption.from_dict(o) for label, o in task.params["options"].items()}


def solve(task: Task, pref: SocialPreference) -> Task:
    """Each option's utility under `pref`; the best one (the first shown wins ties)."""
    task.preference = pref.spec()
    task.utilities = {label: pref.value(o) for label, o in options(task).items()}
    task.optimal = max(task.utilities, key=task.utilities.get)
    return task


def parse(text: str) -> str | None:
    return parse_letter(text, LETTERS)

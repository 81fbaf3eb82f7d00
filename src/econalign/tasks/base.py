"""The task record and what every choice-between-lotteries family shares."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from econalign import EconalignError
from econalign.preferences.base import Lottery, RiskPreference


@dataclass
class Task:
    """One choice item, as a plain record that can be saved, reloaded, scored and traced.

    `params["options"]` maps each answer label to its lottery ([[outcome, prob], ...]);
    `params["wealth"]` is the stated wealth. `optimal`/`utilities` are filled by `solve`.
    """

    id: str
    family: str
    params: dict
    prompt: str  # the question
    options: list[str]
    instruction: str = ""  # how to answer; agent formats replace it
    system: str | None = None
    preference: str | None = None
    optimal: str | None = None
    utilities: dict[str, float] = field(default_factory=dict)

    def lotteries(self) -> dict[str, Lottery]:
        return {label: Lottery.from_list(pairs) for label, pairs in self.params["options"].items()}

    @property
    def wealth(self) -> float:
        return float(self.params.get("wealth", 0.0))

    def messages(self) -> list[dict]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return [*msgs, {"role": "user", "content": f"{self.prompt}\n{self.instruction}".strip()}]

    def to_dict(self) -> dict:
        return asdict(self)


def solve(task: Task, pref: RiskPreference) -> Task:
    """Fill the task's option values and optimal answer under `pref` (first option wins ties).

    A family module with a `solve` of its own (bet sizing: the answer is an amount, not an option) solves its tasks;
    one with a `PREFERENCE` class (games) takes that kind of preference instead of a RiskPreference.
    """
    from econalign.tasks import FAMILIES  # the registry imports this module

    family = FAMILIES.get(task.family)
    kind = getattr(family, "PREFERENCE", RiskPreference)
    if not isinstance(pref, kind):
        wanted = "a risk preference" if kind is RiskPreference else "a social preference (moralis, fs)"
        raise EconalignError(f"{task.family} tasks need {wanted}, got {pref.spec()}")
    own = getattr(family, "solve", None)
    if own is not None:
        return own(task, pref)
    values = {label: pref.value(lot, task.wealth) for label, lot in task.lotteries().items()}
    task.preference = pref.spec()
    task.utilities = values
    task.optimal = max(values, key=values.get)
    return task


# After a leading option: only closing marks, then the end of a clause ("Accept." but not "accept or reject").
LEAD_END = r"""[\s*_'"`)\]]*(?:[.!;:,\n\-\u2013\u2014]|$)"""

NEGATION = r"\b(?:not|never|no|don't|dont|won't|wouldn't|cannot|can't)\s+(?:\w+\s+)?"


def parse_choice(text: str, patterns: dict[str, str], flags=re.IGNORECASE) -> str | None:
    """The one option named in `text`, else None.

    Several different options named: the leading one counts only if the answer opens with it as a
    clause of its own ("Accept. Rejecting would..."); otherwise ("accept or reject") the answer is
    ambiguous and unparsed.
    """
    if not text:
        return None
    text = text[:4000]
    for pat in patterns.values():  # "I would not accept" names no choice
        text = re.sub(NEGATION + pat, " ", text, flags=flags)
    found = [label for label, pat in patterns.items() if re.search(pat, text, flags)]
    if len(found) == 1:
        return found[0]
    lead = re.sub(r"^[\W_]+", "", text)
    return next((label for label in found if re.match(f"(?:{patterns[label]}){LEAD_END}", lead, flags)), None)


def parse_letter(text: str, letters) -> str | None:
    """One option letter, "B" or "option B"; case-sensitive alone, since a lowercase "a" is usually the article."""
    return parse_choice(text, {k: rf"(?:\b{k}\b|\boption\s+{k}\b)" for k in letters}, flags=0) or parse_choice(
        text, {k: rf"\boption\s+{k.lower()}\b" for k in letters}
    )


def letter_or_amount(text: str, letters, values, amounts, limit: float) -> float | None:
    """The value an answer names: its option letter's value, or the one amount `amounts(text)` finds (None
    where it finds several different ones, or one above `limit`)."""
    letter = parse_letter(text, letters)
    if letter or not text:
        return float(values[letters.index(letter)]) if letter else None
    found = set(amounts(text[:4000]))
    if len(found) != 1:
        return None
    (amount,) = found
    return amount if amount <= limit else None


def money(x: float, cents: bool = False) -> str:
    """$1,000, or $3.85 where cents matter (always with `cents`)."""
    x = abs(x)
    return f"${x:,.0f}" if float(x).is_integer() and not cents else f"${x:,.2f}"


def percent(p: float) -> str:
    return f"{100 * p:g}%"

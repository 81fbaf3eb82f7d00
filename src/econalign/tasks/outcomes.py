"""Outcomes files: the list of outcomes `econalign utilities` ranks.

Three formats, told apart by the file's extension:

- plain text (any other extension): one outcome per line; blank lines and lines starting with `#` are skipped;
- YAML (`.yaml`, `.yml`): a list (or `{outcomes: [...]}`) whose items are a string or a mapping
  `{text: ..., kind: ..., quantity: ...}`;
- CSV (`.csv`): a header with a `text` column and optional `kind` and `quantity` columns.

An outcome is one of
- money: the whole line is an amount, alone or after "You receive / get / gain / win" (`$250`,
  `You receive $1,000.50`), or a loss after "You lose / pay" or with a minus sign (`You pay $50`, `-$50`);
- a lottery: chances that add up to 100%, each with an amount (`50% $1,000, 50% $0`,
  `a 10% chance of $500 and a 90% chance of $20`), separated by commas, semicolons, "and" or "or";
- free text: anything else (`You get a new car`), shown to the model as written.

Money and lotteries become Lottery objects, so simulated agents can answer them; free text is for language models
only. A line that starts like an amount but is not one (`$1,00`) is refused rather than read as free text. `kind`
and `quantity` (a positive number, e.g. kind `people saved`, quantity 10) place an outcome on a scale for exchange
rates; an amount of money is on the scale `dollars` by itself.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from econalign import EconalignError
from econalign.preferences.base import Lottery
from econalign.tasks.base import money, percent

MONEY_KIND = "dollars"
FIELDS = ("text", "kind", "quantity")
AMOUNT = r"\$\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?"
GAIN = re.compile(rf"(?:you\s+(?:receive|get|gain|win)\s+)?(-?)({AMOUNT})", re.IGNORECASE)
LOSS = re.compile(rf"you\s+(?:lose|pay)\s+({AMOUNT})", re.IGNORECASE)
# digits, commas and points after a dollar sign and nothing else: meant as an amount, so never free text
MONEY_LIKE = re.compile(r"(?:you\s+(?:receive|get|gain|win|lose|pay)\s+)?-?\$\s?[\d,.]*", re.IGNORECASE)
CHANCE = re.compile(rf"(?:an?\s+)?(\d+(?:\.\d+)?)\s?%\s*(?:chance\s+(?:of|to\s+(?:win|get|receive))\s+)?(-?)({AMOUNT})",
                    re.IGNORECASE)
# a comma before a digit is a thousands separator ($1,000), not the end of a chance
SEPARATOR = re.compile(r"\s*(?:[,;](?!\d)\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    """One outcome: its text as shown to the model, its lottery (None for free text) and its place on a scale."""

    id: str
    text: str
    lottery: Lottery | None = None
    kind: str | None = None
    quantity: float | None = None

    @property
    def amount(self) -> float | None:
        """The sum of money of a sure amount (None for lotteries and free text)."""
        return self.lottery.outcomes[0] if self.lottery and len(self.lottery.outcomes) == 1 else None


def dollars(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").strip())


def parse_money(text: str) -> float | None:
    if m := GAIN.fullmatch(text):
        return -dollars(m[2]) if m[1] else dollars(m[2])
    if m := LOSS.fullmatch(text):
        return -dollars(m[1])
    return None


def parse_lottery(text: str) -> Lottery | None:
    """The lottery a line states, None if it states none; chances that do not add up to 100% are refused."""
    pieces = [CHANCE.fullmatch(p) for p in SEPARATOR.split(text)]
    if not all(pieces):
        return None
    chances = [float(m[1]) for m in pieces]
    if abs(sum(chances) - 100.0) > 1e-6:
        raise EconalignError(f"the chances of {text!r} add up to {sum(chances):g}%, not 100%")
    return Lottery(tuple(-dollars(m[3]) if m[2] else dollars(m[3]) for m in pieces), tuple(c / 100 for c in chances))


def read_text(text: str) -> tuple[str, Lottery | None]:
    """The outcome's words (whitespace runs made one space; money and lotteries without their final full stop)
    and its lottery, if any."""
    words = " ".join(text.split())
    bare = re.sub(r"[.!]+$", "", words).strip()
    amount = parse_money(bare)
    if amount is not None:
        return bare, Lottery.sure(amount)
    lottery = parse_lottery(bare)
    if lottery is not None:
        return bare, lottery
    if MONEY_LIKE.fullmatch(bare):
        raise EconalignError(f"{bare!r} starts like an amount of money but is not one (e.g. $1,000 or $1000.50)")
    return words, None


def describe(outcome: Outcome) -> str:
    """The outcome as the model reads it: money and lotteries in one fixed wording, free text as written."""
    lot = outcome.lottery
    if lot is None:
        return outcome.text
    if len(lot.outcomes) == 1:
        return sure_text(lot.outcomes[0])
    parts = [f"a {percent(p)} chance of {'losing ' if x < 0 else ''}{money(x)}" for x, p in zip(lot.outcomes, lot.probs)]
    head = ", ".join(parts[:-1]) + f" and {parts[-1]}"
    return head[0].upper() + head[1:] + "."


def sure_text(x: float) -> str:
    return f"You pay {money(x)}." if x < 0 else f"You receive {money(x)}."


def outcome(index: int, text, kind=None, quantity=None) -> Outcome:
    """One outcome from a file's fields, checked."""
    if not isinstance(text, str) or not text.strip():
        raise EconalignError("an outcome needs a non-empty text")
    words, lottery = read_text(text)
    if (kind is None) != (quantity is None):
        raise EconalignError(f"{words!r}: give kind and quantity together, or neither")
    if kind is not None:
        if not isinstance(kind, str) or not kind.strip():
            raise EconalignError(f"{words!r}: kind must be a non-empty text")
        quantity = positive(quantity, words)
        kind = kind.strip()
    elif lottery is not None and len(lottery.outcomes) == 1 and lottery.outcomes[0] > 0:
        kind, quantity = MONEY_KIND, lottery.outcomes[0]
    return Outcome(f"o{index}", words, lottery, kind, quantity)


def positive(quantity, words: str) -> float:
    try:
        value = float(quantity)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(quantity, bool) or not 0 < value < float("inf"):
        raise EconalignError(f"{words!r}: quantity must be a positive number, got {quantity!r}")
    return value


def plain_rows(text: str) -> list[tuple[str, dict]]:
    return [(f"line {n}", {"text": line}) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def yaml_rows(text: str) -> list[tuple[str, dict]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EconalignError(f"not valid YAML ({' '.join(str(exc).split())})") from None
    if isinstance(data, dict) and set(data) == {"outcomes"}:
        data = data["outcomes"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise EconalignError("the YAML must be a list of outcomes (or {outcomes: [...]})")
    rows = []
    for n, item in enumerate(data, 1):
        fields = item if isinstance(item, dict) else {"text": item}
        rows.append((f"item {n}", fields))
    return rows


def csv_rows(text: str) -> list[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return []
    if "text" not in reader.fieldnames:
        raise EconalignError(f"the CSV header has no `text` column (it has {', '.join(reader.fieldnames)})")
    rows = []
    for n, row in enumerate(reader, 2):
        if None in row:
            raise EconalignError(f"row {n} has more fields than the header")
        rows.append((f"row {n}", {k: (v if v and v.strip() else None) for k, v in row.items()}))
    return rows


def read_outcomes(path: Path) -> list[Outcome]:
    """The outcomes of a file (format by extension), or one clear error naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EconalignError(f"cannot read outcomes file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    suffix = path.suffix.lower()
    reader = yaml_rows if suffix in (".yaml", ".yml") else csv_rows if suffix == ".csv" else plain_rows
    try:
        rows = reader(text)
    except EconalignError as exc:
        raise EconalignError(f"{path}: {exc}") from None
    outcomes, seen = [], {}
    for where, fields in rows:
        unknown = [k for k in fields if k not in FIELDS]
        if unknown:
            raise EconalignError(f"{path} {where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        try:
            item = outcome(len(outcomes) + 1, fields.get("text"), fields.get("kind"), fields.get("quantity"))
        except EconalignError as exc:
            raise EconalignError(f"{path} {where}: {exc}") from None
        shown = describe(item)
        if shown in seen:
            raise EconalignError(f"{path} {where}: {item.text!r} is the same outcome as {seen[shown]}")
        seen[shown] = where
        outcomes.append(item)
    if len(outcomes) < 3:
        raise EconalignError(f"{path} holds {len(outcomes)} outcome{'s' if len(outcomes) != 1 else ''}; "
                             "at least 3 are needed")
    return outcomes

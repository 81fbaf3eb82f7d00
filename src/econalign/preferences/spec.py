"""Preference specs as strings: `crra:r=2`, `risk-averse`, `pt:alpha=0.88,lambda=2.25`, `moralis:kappa=0.5`."""

from __future__ import annotations

import math

from econalign import EconalignError
from econalign.preferences.crra import CRRA, NAMED_CRRA, ExpectedValue
from econalign.preferences.prospect import ProspectTheory
from econalign.preferences.social import FehrSchmidt, HomoMoralis

# name -> (constructor, {spec key: constructor argument}, required keys)
FAMILIES = {
    "ev": (ExpectedValue, {}, ()),
    "crra": (CRRA, {"r": "r"}, ("r",)),
    "pt": (
        ProspectTheory,
        {"alpha": "alpha", "beta": "beta", "lambda": "lam", "gamma": "gamma", "delta": "delta", "reference": "reference"},
        (),
    ),
    "moralis": (HomoMoralis, {"kappa": "kappa"}, ("kappa",)),
    "fs": (FehrSchmidt, {"alpha": "alpha", "beta": "beta"}, ("alpha", "beta")),
}

ALIASES = {
    **{name: f"crra:r={r:g}" for name, r in NAMED_CRRA.items()},
    "log-utility": "crra:r=1",
    "linear-utility": "crra:r=0",
    "risk-neutral": "ev",
    "expected-value": "ev",
    # Tversky & Kahneman (1992) median estimates, with probability weighting.
    "tk92": "pt:alpha=0.88,beta=0.88,lambda=2.25,gamma=0.61,delta=0.69",
    "homo-economicus": "moralis:kappa=0",
    "homo-kantiensis": "moralis:kappa=1",
}


def split_params(text: str) -> dict[str, float]:
    """`a=1,b=2` -> {"a": 1.0, "b": 2.0}, refusing anything else with a clear message."""
    params: dict[str, float] = {}
    for piece in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = piece.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise EconalignError(f"expected key=value in preference spec, got {piece!r}")
        try:
            value = float(raw)
        except ValueError:
            raise EconalignError(f"{key} must be a number, got {raw.strip()!r}") from None
        if not math.isfinite(value):
            raise EconalignError(f"{key} must be finite, got {raw.strip()!r}")
        if key in params:
            raise EconalignError(f"{key} is given twice in preference spec")
        params[key] = value
    return params


def parse_preference(spec: str):
    """Build a preference model from its spec string (see module docstring and README)."""
    text = spec.strip().lower()
    text = ALIASES.get(text, text)
    name, _, rest = text.partition(":")
    if name not in FAMILIES:
        known = ", ".join(sorted([*FAMILIES, *ALIASES]))
        raise EconalignError(f"unknown preference {spec!r}; known: {known}")
    cls, keys, required = FAMILIES[name]
    params = split_params(rest)
    unknown = set(params) - set(keys)
    if unknown:
        raise EconalignError(f"{name} takes {', '.join(keys) or 'no parameters'}; unknown: {', '.join(sorted(unknown))}")
    missing = [k for k in required if k not in params]
    if missing:
        raise EconalignError(f"{name} needs {', '.join(missing)} (e.g. {name}:{missing[0]}=1)")
    return cls(**{keys[k]: v for k, v in params.items()})

"""Preference models: pure numpy/scipy math, no ML imports."""

from econalign.preferences.base import Lottery, RiskPreference
from econalign.preferences.crra import CRRA, ExpectedValue
from econalign.preferences.prospect import ProspectTheory
from econalign.preferences.social import FehrSchmidt, HomoMoralis
from econalign.preferences.spec import parse_preference

__all__ = [
    "CRRA",
    "ExpectedValue",
    "FehrSchmidt",
    "HomoMoralis",
    "Lottery",
    "ProspectTheory",
    "RiskPreference",
    "parse_preference",
]

"""Tools a model can call during agent rollouts (the calculator, in-process or over HTTP)."""

from econalign.tools.calculator import CalcResult, evaluate

__all__ = ["CalcResult", "evaluate"]

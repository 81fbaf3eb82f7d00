"""Training a model towards a preference: SFT, GRPO and expert iteration (via TRL)."""

from econalign.training.config import EIRunConfig, GRPORunConfig, SFTRunConfig, load_config
from econalign.training.sft import SFTResult, train_sft

__all__ = ["EIRunConfig", "GRPORunConfig", "SFTResult", "SFTRunConfig", "load_config", "train_sft"]

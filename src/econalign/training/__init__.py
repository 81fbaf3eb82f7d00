"""Training a model towards a preference: SFT, GRPO and expert iteration (via TRL)."""

from econalign.training.config import AlignRunConfig, EIRunConfig, GRPORunConfig, SFTRunConfig, load_config
from econalign.training.sft import SFTResult, train_sft

__all__ = ["AlignRunConfig", "EIRunConfig", "GRPORunConfig", "SFTResult", "SFTRunConfig", "load_config", "train_sft"]

"""Training a model towards a preference: supervised fine-tuning on chat records (via TRL)."""

from econalign.training.config import SFTRunConfig, load_config
from econalign.training.sft import SFTResult, train_sft

__all__ = ["SFTResult", "SFTRunConfig", "load_config", "train_sft"]

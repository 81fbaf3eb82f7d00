"""One align stage retrained for a few steps with one setting changed: the training loss it reaches.

    python sweep.py RUN/sft-2 base 150                                  # the stage's own settings
    python sweep.py RUN/sft-2 top10 150 "{lora.top_layers: 10}"         # section.key: value, YAML
Output goes to $EXP_DIR/sweep/<name>; the stage's config.yaml (written by `econalign align`) names its data
and its starting model.
"""
import os
import sys
import time

import yaml

from econalign.training.cached import train_cached
from econalign.training.config import SFTRunConfig

stage, name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
changes = yaml.safe_load(sys.argv[4]) if len(sys.argv) > 4 else {}
config = yaml.safe_load(open(os.path.join(stage, "config.yaml")))
noise = config.pop("noise")
config.pop("trainer")
config["output_dir"] = os.path.join(os.environ.get("EXP_DIR", "/tmp/exp"), "sweep", name)
config["training"]["max_steps"] = steps
for key, value in changes.items():
    section, field = key.split(".")
    config[section][field] = value
start = time.time()
summary = train_cached(SFTRunConfig(**config), noise, say=lambda line: None)
print(name, changes, "loss every", config["training"]["logging_steps"], "steps",
      [round(x["loss"], 3) for x in summary["losses"]], "train_s", round(summary["train_seconds"]),
      "wall_s", round(time.time() - start))

"""Environments: repeated interactions that agents play round after round (the pricing duopoly), as
opposed to the batteries of one-shot decisions that `econalign profile` measures."""

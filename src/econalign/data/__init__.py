"""Synthetic training data: reasoning traces from the exact solver, saved as chat JSONL and a Hugging Face dataset."""

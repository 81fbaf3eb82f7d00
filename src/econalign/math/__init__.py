"""Math reasoning with verifiable rewards: GSM8K / MATH problems, r1_zero prompts, grading, evaluation."""

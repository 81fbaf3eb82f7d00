"""Agent format (think / tool / final answer), multi-turn calculator rollouts and the agent batch test."""

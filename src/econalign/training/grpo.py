"""GRPO with verifiable preference rewards, on TRL's GRPOTrainer.

The prompts are the user turns of `econalign data` records; each record's solved `task` and its
`preference` go to the reward functions (training/rewards.py), weighted as the config says. The
completion is one assistant turn: a blind trace (reasoning in <think>, one final line), or with
`grpo.calculator: true` an agentic trace generated over several turns with the calculator
answering every </tool> (training/rollout.py).
Records of `econalign math data` (an r1_zero text prompt and a `gold` answer) train the same way
with the `math_format` and `math_answer` rewards.
Generation runs in transformers on a CPU, in vLLM on GPUs (`grpo.vllm: colocate` or `server`).

output_dir receives checkpoint-N/, config.yaml, the training curves (curves.csv, curves.json,
curves.png: reward with its spread, accuracy, format rate, share of groups without reward spread,
completion length, entropy, KL, clipped share per step), report.html,
summary.json, model/ (merged) and adapter/ for LoRA runs.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import pandas as pd

from econalign import EconalignError
from econalign.io import write_json, write_text
from econalign.training.config import GRPORunConfig
from econalign.training.dataset import reward_records
from econalign.training.rewards import REWARDS
from econalign.training.rollout import calculator_rollout_func
from econalign.training.sft import load_model, lora_config, run_training

# curve name -> TRL's log keys, the first present counts (preference runs, then math runs)
CURVES = {
    "reward": ("reward",),
    "reward_std": ("reward_std",),  # over the step's completions
    "frac_zero_std": ("frac_reward_zero_std",),  # groups whose completions all earned the same: no gradient
    "accuracy": ("rewards/outcome_reward/mean", "rewards/math_answer_reward/mean"),
    "format_rate": ("rewards/format_reward/mean", "rewards/math_format_reward/mean"),
    "regret_reward": ("rewards/regret_reward/mean",),
    "completion_length": ("completions/mean_length",),
    "entropy": ("entropy",),  # nats per sampled token
    "kl": ("kl",),
    "clip_ratio": ("clip_ratio/region_mean",),  # num_iterations > 1: tokens whose probability ratio was clipped
}


@dataclass
class GRPOResult:
    output_dir: str
    model_dir: str
    global_step: int
    resumed_from: int | None
    curves: list[dict]
    train_seconds: float


def grpo_args(config: GRPORunConfig, on_gpu: bool = False):
    """TRL's GRPOConfig of a run: every `grpo:` setting reaches the trainer through here."""
    import torch
    from trl import GRPOConfig

    g = config.grpo
    return GRPOConfig(
        output_dir=str(config.output_dir),
        seed=config.seed,
        max_steps=g.max_steps,
        learning_rate=g.learning_rate,
        per_device_train_batch_size=g.batch_size,
        gradient_accumulation_steps=g.grad_accum,
        num_generations=g.num_generations,
        max_completion_length=g.max_completion_length,
        temperature=g.temperature,
        top_p=g.top_p,
        beta=g.beta,
        loss_type=g.loss_type,
        scale_rewards=g.scale_rewards,
        num_iterations=g.num_iterations,
        epsilon=g.epsilon,
        reward_weights=list(g.rewards.values()),
        logging_steps=g.logging_steps,
        save_strategy="steps",
        save_steps=g.save_steps,
        save_total_limit=g.save_total_limit,
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        use_vllm=g.vllm != "off",
        vllm_mode="colocate" if g.vllm == "off" else g.vllm,
        dataloader_pin_memory=on_gpu,
        report_to="none",
    )


def build_trainer(config: GRPORunConfig, reward_funcs: list | None = None):
    """TRL's GRPOTrainer of a run; `reward_funcs` (TRL reward functions, weight 1 each) replace the
    config's named rewards, for a task of your own."""
    import torch
    from datasets import Dataset
    from trl import GRPOTrainer

    g = config.grpo
    dataset = Dataset.from_list(reward_records(config.data))
    model, tokenizer = load_model(config.model)
    on_gpu = torch.cuda.is_available()
    if g.vllm != "off" and not on_gpu:
        raise EconalignError(f"grpo.vllm: {g.vllm} needs a GPU; use vllm: off on a CPU")
    args = grpo_args(config, on_gpu)
    if reward_funcs is not None:
        args.reward_weights = None
    rollout = calculator_rollout_func(g.max_turns) if g.calculator else None
    return GRPOTrainer(model=model, reward_funcs=reward_funcs or [REWARDS[n] for n in g.rewards], args=args,
                       train_dataset=dataset, processing_class=tokenizer, peft_config=lora_config(config.lora, model),
                       rollout_func=rollout)


def train_grpo(config: GRPORunConfig, resume: bool = True, reward_funcs: list | None = None) -> GRPOResult:
    run = run_training(config, lambda c: build_trainer(c, reward_funcs), resume)
    result = GRPOResult(str(run.out), str(run.model_dir), run.trainer.state.global_step, run.resumed_from,
                        curves(run.trainer.state.log_history), run.seconds)
    save_curves(result, run.out)
    write_json(run.out / "summary.json", asdict(result))
    return result


def curves(log_history: list[dict]) -> list[dict]:
    """One row per logged step; with num_iterations > 1 the steps that reuse rollouts log no reward but
    the clipping, which only they can show."""
    logged = {k for keys in CURVES.values() for k in keys}
    return [{"step": e["step"], **{name: next((e[k] for k in keys if k in e), None) for name, keys in CURVES.items()}}
            for e in log_history if logged & e.keys()]


def first_and_last(curves: list[dict], name: str) -> tuple[int, float | None, float | None]:
    """Means of curve `name` over the first and the last k steps, k a quarter of the steps (1 to 5): one
    step's value is the noisy mean of a few groups, so a first-step-to-last-step change says little."""
    values = [c[name] for c in curves if c[name] is not None]
    k = min(5, max(1, len(values) // 4))
    return k, (sum(values[:k]) / k if values else None), (sum(values[-k:]) / k if values else None)


def save_curves(result: GRPOResult, out) -> None:
    from econalign.measure.report import html_page, save_figures

    frame = pd.DataFrame(result.curves, columns=["step", *CURVES])
    write_json(out / "curves.json", result.curves)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    write_text(out / "curves.csv", buf.getvalue())
    images = save_figures({"curves.png": curves_figure(frame)}, out)
    facts = [("steps", result.global_step), ("resumed from", result.resumed_from or "—"),
             ("train time", f"{result.train_seconds:.0f} s")]
    for name in ("reward", "accuracy", "format_rate"):
        k, first, last = first_and_last(result.curves, name)
        if first is not None:
            facts.append((f"{name}, mean of the first → last {k} steps", f"{first:.3f} → {last:.3f}"))
    write_text(out / "report.html", html_page("GRPO training curves", facts, {}, {"Curves": images["curves.png"]},
                                              footer="Per-step values: curves.csv."))


def curves_figure(frame: pd.DataFrame):
    import matplotlib.pyplot as plt

    def line(ax, name, **kwargs):  # steps that reuse rollouts (num_iterations > 1) log no reward: skip, not break
        rows = frame.dropna(subset=[name])
        ax.plot(rows["step"], rows[name], marker="o", ms=3, **kwargs)

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    (rewards, spread, length), (entropy, kl, clip) = axes
    for name in ("reward", "accuracy", "format_rate"):
        line(rewards, name, label=name)
    rows = frame.dropna(subset=["reward"])
    rewards.fill_between(rows["step"], rows["reward"] - rows["reward_std"], rows["reward"] + rows["reward_std"],
                         alpha=0.15, label="reward ± SD")
    rewards.set(xlabel="step", title="rewards (means over the step)")
    rewards.legend(fontsize=8)
    line(spread, "frac_zero_std")
    spread.set(xlabel="step", ylim=(-0.05, 1.05), title="share of groups with one reward (no signal)")
    line(length, "completion_length")
    length.set(xlabel="step", title="completion length (sampled tokens)")
    line(entropy, "entropy")
    entropy.set(xlabel="step", title="entropy (nats per token)")
    line(clip, "clip_ratio")
    clip.set(xlabel="step", title="share of tokens clipped (num_iterations > 1)")
    kl.set(xlabel="step", title="KL to the reference")
    if frame["kl"].notna().any():
        line(kl, "kl")
    else:  # beta = 0 loads no reference model
        kl.text(0.5, 0.5, "not computed (beta = 0)", ha="center", va="center", transform=kl.transAxes)
        kl.set(xticks=[], yticks=[])
    fig.tight_layout()
    return fig

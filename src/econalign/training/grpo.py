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
curves.png: reward, accuracy, format rate, completion length per step), report.html,
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
    "accuracy": ("rewards/outcome_reward/mean", "rewards/math_answer_reward/mean"),
    "format_rate": ("rewards/format_reward/mean", "rewards/math_format_reward/mean"),
    "regret_reward": ("rewards/regret_reward/mean",),
    "completion_length": ("completions/mean_length",),
    "kl": ("kl",),
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
    return [{"step": e["step"], **{name: next((e[k] for k in keys if k in e), None) for name, keys in CURVES.items()}}
            for e in log_history if "reward" in e]


def save_curves(result: GRPOResult, out) -> None:
    from econalign.measure.report import html_page, save_figures

    frame = pd.DataFrame(result.curves, columns=["step", *CURVES])
    write_json(out / "curves.json", result.curves)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    write_text(out / "curves.csv", buf.getvalue())
    images = save_figures({"curves.png": curves_figure(frame)}, out)
    last = frame.iloc[-1] if len(frame) else {}
    facts = [("steps", result.global_step), ("resumed from", result.resumed_from or "—"),
             ("train time", f"{result.train_seconds:.0f} s"),
             ("last step", ", ".join(f"{k} {last[k]:.3f}" for k in ("reward", "accuracy", "format_rate")
                                     if len(frame) and pd.notna(last[k])))]
    write_text(out / "report.html", html_page("GRPO training curves", facts, {}, {"Curves": images["curves.png"]},
                                              footer="Per-step values: curves.csv."))


def curves_figure(frame: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for name in ("reward", "accuracy", "format_rate"):
        axes[0].plot(frame["step"], frame[name], marker="o", ms=3, label=name)
    axes[0].set(xlabel="step", title="rewards (group means)")
    axes[0].legend(fontsize=8)
    axes[1].plot(frame["step"], frame["completion_length"], marker="o", ms=3)
    axes[1].set(xlabel="step", title="completion length (tokens)")
    axes[2].set(xlabel="step", title="KL to the reference")
    if frame["kl"].notna().any():
        axes[2].plot(frame["step"], frame["kl"], marker="o", ms=3)
    else:  # beta = 0 loads no reference model
        axes[2].text(0.5, 0.5, "not computed (beta = 0)", ha="center", va="center", transform=axes[2].transAxes)
        axes[2].set(xticks=[], yticks=[])
    fig.tight_layout()
    return fig

"""GRPO with verifiable preference rewards, on TRL's GRPOTrainer.

The prompts are the user turns of `econalign data` records; each record's solved `task` and its
`preference` go to the reward functions (training/rewards.py), weighted as the config says. The
completion is one assistant turn: a blind trace (reasoning in <think>, one final line), or with
`grpo.calculator: true` an agentic trace generated over several turns with the calculator
answering every </tool> (training/rollout.py).
Records of `econalign math data` (an r1_zero text prompt or a question_only chat prompt, and a
`gold` answer) train the same way with the `math_format` (r1_zero only) and `math_answer` rewards.
Generation runs in transformers on a CPU, in vLLM on GPUs (`grpo.vllm: colocate` or `server`).
With `eval:` records, TRL's own evaluation samples completions for every held-out record (the
rollouts' sampling and rewards, calculator included) before the first step and every
`grpo.eval_steps` steps, and logs their mean rewards as `eval_*`.

output_dir receives checkpoint-N/, config.yaml, the training curves (curves.csv, curves.json,
curves.png: reward with its spread, accuracy, format rate, share of groups without reward spread,
completion length, entropy, KL, clipped share per step; held-out reward, accuracy and format rate
at each evaluation), report.html, summary.json, model/ (merged) and adapter/ for LoRA runs.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass

import pandas as pd

from econalign import EconalignError
from econalign.io import write_json, write_text
from econalign.math.prompts import prompt_name
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
# the same means over the held-out records, as TRL's evaluation logs them
HELD_OUT = {f"eval_{name}": tuple(f"eval_{key}" for key in CURVES[name]) for name in ("reward", "accuracy", "format_rate")}
COLUMNS = CURVES | HELD_OUT


@dataclass
class GRPOResult:
    output_dir: str
    model_dir: str
    global_step: int
    resumed_from: int | None
    curves: list[dict]
    train_seconds: float
    held_out_records: int | None = None


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
        eval_strategy="steps" if config.eval else "no",
        eval_steps=g.eval_steps,
        eval_on_start=config.eval is not None,  # the starting policy's held-out rewards
        per_device_eval_batch_size=g.eval_batch_size or g.batch_size,
        num_generations_eval=g.eval_generations,
        use_vllm=g.vllm != "off",
        vllm_mode="colocate" if g.vllm == "off" else g.vllm,
        dataloader_pin_memory=on_gpu,
        report_to="none",
    )


def build_trainer(config: GRPORunConfig, reward_funcs: list | None = None):
    """TRL's GRPOTrainer of a run; `reward_funcs` (TRL reward functions, weight 1 each) replace the
    config's named rewards, for a task of your own."""
    import torch

    g = config.grpo
    records = reward_records(config.data)
    held_out = reward_records(config.eval) if config.eval else []
    on_gpu = torch.cuda.is_available()
    if g.vllm != "off" and not on_gpu:
        raise EconalignError(f"grpo.vllm: {g.vllm} needs a GPU; use vllm: off on a CPU")
    from datasets import Dataset  # after the cheap checks: importing TRL takes seconds
    from trl import GRPOTrainer

    args = grpo_args(config, on_gpu)
    if reward_funcs is None:
        check_math_rewards(records + held_out, g.rewards)
    else:
        args.reward_weights = None
    check_held_out(records, held_out, args)
    model, tokenizer = load_model(config.model)
    if line := budget_shortfall(records, tokenizer, g.max_completion_length):
        warnings.warn(line, stacklevel=2)
    rollout = calculator_rollout_func(g.max_turns) if g.calculator else None
    return GRPOTrainer(model=model, reward_funcs=reward_funcs or [REWARDS[n] for n in g.rewards], args=args,
                       train_dataset=Dataset.from_list(records),
                       eval_dataset=Dataset.from_list(held_out) if held_out else None, processing_class=tokenizer,
                       peft_config=lora_config(config.lora, model), rollout_func=rollout)


def budget_shortfall(records: list[dict], tokenizer, budget: int) -> str | None:
    """A line saying how many records' own answers (the solver's traces, the calculator's answers inside them) run
    longer than a rollout may: a rollout cut there earns no format reward, however right it was going. A 256-token
    budget cut most of the agentic prospect-theory traces (240-300 tokens), which is what drove a CPU run's format
    reward down (README, issue 18)."""
    lengths = [len(tokenizer(r["reference"], add_special_tokens=False)["input_ids"]) + 1  # and the end of sequence
               for r in records if r.get("reference")]
    over = sum(n > budget for n in lengths)
    if over:
        return (f"{over} of {len(lengths)} training records' own answers are longer than grpo.max_completion_length "
                f"({budget} tokens; the longest {max(lengths)}): rollouts that long are cut and earn no format reward")
    return None


def check_math_rewards(records: list[dict], rewards: dict) -> None:
    if "math_format" in rewards and any("gold" in r and prompt_name(r["prompt"]) == "question_only" for r in records):
        raise EconalignError("question_only math records have no format reward (as in CS336: the answer is the last "
                             "box or number); reward them with math_answer alone")


def check_held_out(records: list[dict], held_out: list[dict], args) -> None:
    """Held-out records the rewards can read, in whole evaluation batches: TRL logs the mean of the
    batches' means, which is the mean over the records only when every batch is full."""
    if not held_out:
        return
    if {tuple(sorted(r)) for r in held_out} - {tuple(sorted(r)) for r in records}:
        raise EconalignError("the held-out records (eval:) are not of the kind of the training records (data:)")
    batch = args.per_device_eval_batch_size * args.world_size
    if len(held_out) * args.num_generations_eval % batch:
        raise EconalignError(f"{len(held_out)} held-out records x {args.num_generations_eval} completions do not fill "
                             f"whole evaluation batches of {batch} completions; set eval.max_examples or "
                             "grpo.eval_batch_size so that they do")


def train_grpo(config: GRPORunConfig, resume: bool = True, reward_funcs: list | None = None) -> GRPOResult:
    run = run_training(config, lambda c: build_trainer(c, reward_funcs), resume)
    held_out = run.trainer.eval_dataset
    result = GRPOResult(str(run.out), str(run.model_dir), run.trainer.state.global_step, run.resumed_from,
                        curves(run.trainer.state.log_history), run.seconds, len(held_out) if held_out else None)
    save_curves(result, run.out)
    write_json(run.out / "summary.json", asdict(result))
    return result


def curves(log_history: list[dict]) -> list[dict]:
    """One row per logged step, training and held-out values together (TRL logs them apart; step 0 holds
    only the evaluation before training); with num_iterations > 1 the steps that reuse rollouts log no
    reward but the clipping, which only they can show."""
    rows: dict[int, dict] = {}
    for entry in log_history:
        found = {name: next(entry[k] for k in keys if k in entry) for name, keys in COLUMNS.items()
                 if any(k in entry for k in keys)}
        if found:
            rows.setdefault(entry["step"], dict.fromkeys(COLUMNS)).update(found)
    return [{"step": step, **row} for step, row in sorted(rows.items())]


def evaluations(curves: list[dict], name: str) -> list[tuple[int, float]]:
    """(step, value) of held-out curve `name` at each evaluation."""
    return [(c["step"], c[name]) for c in curves if c[name] is not None]


def first_and_last(curves: list[dict], name: str) -> tuple[int, float | None, float | None]:
    """Means of curve `name` over the first and the last k steps, k a quarter of the steps (1 to 5): one
    step's value is the noisy mean of a few groups, so a first-step-to-last-step change says little."""
    values = [c[name] for c in curves if c[name] is not None]
    k = min(5, max(1, len(values) // 4))
    return k, (sum(values[:k]) / k if values else None), (sum(values[-k:]) / k if values else None)


def save_curves(result: GRPOResult, out) -> None:
    from econalign.measure.report import html_page, save_figures

    frame = pd.DataFrame(result.curves, columns=["step", *COLUMNS])
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
    if result.held_out_records:
        facts.append(("held-out records", result.held_out_records))
    for name in HELD_OUT:
        if seen := evaluations(result.curves, name):
            (first_step, first), (last_step, last) = seen[0], seen[-1]
            facts.append((f"held-out {name.removeprefix('eval_')}, step {first_step} → {last_step}",
                          f"{first:.3f} → {last:.3f}"))
    write_text(out / "report.html", html_page("GRPO training curves", facts, {}, {"Curves": images["curves.png"]},
                                              footer="Per-step values: curves.csv."))


def curves_figure(frame: pd.DataFrame):
    import matplotlib.pyplot as plt

    def line(ax, name, marker="o", **kwargs):  # steps that reuse rollouts (num_iterations > 1) log no reward: skip
        rows = frame.dropna(subset=[name])
        ax.plot(rows["step"], rows[name], marker=marker, ms=3, **kwargs)

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    (rewards, spread, length), (entropy, kl, clip) = axes
    for i, name in enumerate(("reward", "accuracy", "format_rate")):
        line(rewards, name, label=name, color=f"C{i}")
        if frame[f"eval_{name}"].notna().any():
            line(rewards, f"eval_{name}", label=f"held-out {name}", color=f"C{i}", ls="--", marker="s")
    rows = frame.dropna(subset=["reward"])
    rewards.fill_between(rows["step"], rows["reward"] - rows["reward_std"], rows["reward"] + rows["reward_std"],
                         alpha=0.15, label="reward ± SD")
    rewards.set(xlabel="step", title="rewards (means over the step; dashed: held-out)")
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

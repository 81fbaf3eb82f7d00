"""Supervised fine-tuning with TRL's SFTTrainer: full or LoRA, loss on the assistant's answers only.

output_dir receives checkpoint-N/ folders (every save_steps), config.yaml, the loss curve
(loss.json, loss.csv, loss.png), summary.json, and at the end model/ (a full model with its
tokenizer, LoRA merged in) plus adapter/ for LoRA runs. `--model output_dir/model` then works
with every command.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from econalign import EconalignError
from econalign.backends.hf import check_model
from econalign.io import check_writable, save_figure, writable_dir, write_dir, write_json, write_text
from econalign.training.config import SFTRunConfig
from econalign.training.dataset import load_dataset, tokenize

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# What a resumed run may change: how long it runs and how it logs and saves.
RESUMABLE_CHANGES = ("epochs", "max_steps", "logging_steps", "save_steps", "save_total_limit")


@dataclass
class SFTResult:
    output_dir: str
    model_dir: str
    adapter_dir: str | None
    global_step: int
    resumed_from: int | None  # global step of the checkpoint this run continued from
    losses: list[dict]  # {"step", "epoch", "loss", "learning_rate"} per logging step
    train_seconds: float

    @property
    def first_loss(self) -> float | None:
        return self.losses[0]["loss"] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1]["loss"] if self.losses else None


@dataclass
class Run:
    """A finished training run: its folder, trainer, where it resumed from, and what it saved."""

    out: Path
    trainer: object
    resumed_from: int | None
    seconds: float
    model_dir: Path
    adapter_dir: Path | None


def run_training(config, build, resume: bool) -> Run:
    """What SFT and GRPO runs share: resume point, config.yaml, training, merged model (and adapter)."""
    out = check_writable(Path(config.output_dir))
    checkpoint = resume_point(out, resume) if out.is_dir() else None
    if checkpoint:
        check_same_run(out / "config.yaml", config)
    check_model(config.model)  # a wrong path fails before the seconds of importing TRL
    trainer = build(config)  # loads the model and the data: bad input stops here, before any output is made
    write_text(writable_dir(out) / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.perf_counter() - start
    adapter_dir = save_adapter(trainer, out / "adapter") if config.lora else None
    return Run(out, trainer, checkpoint_step(checkpoint) if checkpoint else None, seconds,
               save_model(trainer, out / "model"), adapter_dir)


def lora_config(settings, model):
    """peft's LoraConfig of a run's `lora:` settings for `model` (None: full fine-tuning)."""
    from peft import LoraConfig

    if settings is None:
        return None
    targets, layers = settings.target_modules, None
    if settings.top_layers:
        depth = model.config.num_hidden_layers
        if settings.top_layers > depth:
            raise EconalignError(f"lora.top_layers is {settings.top_layers} but the model has {depth} layers")
        layers = list(range(depth - settings.top_layers, depth))
        if targets == "all-linear":  # peft takes a layer subset only with named modules
            targets = linear_module_names(model)
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=targets, layers_to_transform=layers, task_type="CAUSAL_LM")


def linear_module_names(model) -> list[str]:
    """The names of the decoder's linear layers (q_proj, ..., down_proj in Llama), as "all-linear" means them."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and name != "lm_head" and not name.endswith(".lm_head")})


def train_sft(config: SFTRunConfig, resume: bool = True) -> SFTResult:
    run = run_training(config, build_trainer, resume)
    result = SFTResult(
        output_dir=str(run.out),
        model_dir=str(run.model_dir),
        adapter_dir=str(run.adapter_dir) if run.adapter_dir else None,
        global_step=run.trainer.state.global_step,
        resumed_from=run.resumed_from,
        losses=loss_curve(run.trainer.state.log_history),
        train_seconds=run.seconds,
    )
    save_curve(result.losses, run.out)
    write_json(run.out / "summary.json", {**asdict(result), "first_loss": result.first_loss, "last_loss": result.last_loss})
    return result


def build_trainer(config: SFTRunConfig):
    """The SFTTrainer of a run, its dataset already tokenized and labelled."""
    import torch

    t = config.training
    dataset = load_dataset(config.data)  # before the model and TRL: a bad record fails in seconds, not a minute
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load_model(config.model)
    dataset = tokenize(dataset, tokenizer)
    on_gpu = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(config.output_dir),
        seed=config.seed,
        data_seed=config.seed,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps or -1,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        max_length=t.max_length,
        warmup_steps=t.warmup,
        lr_scheduler_type=t.lr_scheduler,
        weight_decay=t.weight_decay,
        logging_steps=t.logging_steps,
        logging_first_step=True,  # the curve then starts from the untrained model's loss
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        gradient_checkpointing=t.gradient_checkpointing,
        # TRL defaults to bf16, which on a CPU is slow autocast; GPUs without bf16 train in fp32.
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        fp16=False,
        completion_only_loss=True,  # tokens outside completion_mask get label -100 (see training/dataset.py)
        dataloader_num_workers=0,
        dataloader_pin_memory=on_gpu,
        report_to="none",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config.lora, model),
    )
    if len(trainer.train_dataset) == 0:  # TRL drops examples whose answer lies wholly past max_length
        raise EconalignError(
            f"no record has an answer within max_length={t.max_length} tokens; raise training.max_length"
        )
    return trainer


def load_model(model: str):
    """Weights in float32 whatever the device: on GPUs bf16 is autocast, the master weights stay fp32."""
    import torch

    from econalign.backends.hf import load_pretrained

    lm, tokenizer = load_pretrained(model, torch.float32)
    if not tokenizer.chat_template:
        raise EconalignError(f"model {model!r} has no chat template; SFT on chat records needs one")
    return lm, tokenizer


def resume_point(out: Path, resume: bool) -> Path | None:
    """The latest complete checkpoint in `out`, or None to start afresh.

    Transformers writes trainer_state.json last and not atomically, so a folder without a readable
    one was cut by a kill mid-save: it is removed, as are all checkpoints when not resuming (a later
    resume would otherwise pick up a stale one from the earlier run).
    """
    found = sorted((p for p in out.iterdir() if p.is_dir() and CHECKPOINT.match(p.name)), key=checkpoint_step)
    complete = [p for p in found if resume and readable_state(p)]
    for p in found:
        if p not in complete:
            shutil.rmtree(p)
    return complete[-1] if complete else None


def with_defaults(saved: dict, kind) -> dict:
    """A saved config with the settings added to `kind` since it was written at their defaults."""
    from pydantic import ValidationError

    try:
        return kind.model_validate(saved).model_dump(mode="json")
    except ValidationError:  # one that no longer validates differs from any valid config anyway
        return saved


def check_same_run(saved: Path, config) -> None:
    """A checkpoint fits only the run that wrote it: another model, LoRA or data would fail deep in
    torch or train on the wrong batches."""
    if not saved.exists():
        return
    old = with_defaults(yaml.safe_load(saved.read_text(encoding="utf-8")), type(config))
    new = config.model_dump(mode="json")
    for cfg in (old, new):
        for key in RESUMABLE_CHANGES:
            for section in ("training", "grpo"):
                cfg.get(section, {}).pop(key, None)
    changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    if changed:
        raise EconalignError(
            f"{saved.parent} holds checkpoints of a run with other {', '.join(changed)} settings; "
            "use --no-resume to start over, or another output_dir"
        )


def checkpoint_step(path: Path) -> int:
    return int(CHECKPOINT.match(path.name).group(1))


def readable_state(checkpoint: Path) -> bool:
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def save_adapter(trainer, target: Path) -> Path:
    write_dir(target, lambda tmp: trainer.save_model(str(tmp)))
    return target


def save_model(trainer, target: Path) -> Path:
    """A plain Hugging Face model folder: LoRA weights merged into the base, plus the tokenizer."""
    from peft import PeftModel

    model = trainer.model
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        trainer.processing_class.save_pretrained(tmp)

    write_dir(target, write)
    return target


def loss_curve(log_history: list[dict]) -> list[dict]:
    keys = ("step", "epoch", "loss", "learning_rate")
    return [{k: entry.get(k) for k in keys} for entry in log_history if "loss" in entry]


def save_curve(losses: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_json(out / "loss.json", losses)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["step", "epoch", "loss", "learning_rate"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(losses)
    write_text(out / "loss.csv", buf.getvalue())
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in losses], [r["loss"] for r in losses], marker="o", markersize=3)
    ax.set(xlabel="optimizer step", ylabel="training loss (answer tokens)", title="SFT training loss")
    ax.grid(alpha=0.3)
    save_figure(fig, out / "loss.png")
    plt.close(fig)

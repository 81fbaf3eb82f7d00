"""`econalign align`: make model M prefer P, and show it from M's own choice probabilities.

One resumable pipeline in OUT:
  before/   logit profile of M (risk battery for risk targets, social battery for social ones) + retention.json
  data/     direct-decision training items in the battery's formats, labelled by P (train.jsonl, summary.json)
  sft/      LoRA fine-tuning, on the frozen layers' cached states (`trainer: cached`, training/cached.py) or
            with TRL's SFT trainer: checkpoints, loss curve, merged model/
            (a curriculum of k item sets: data-1/ sft-1/ ... data-k/ sft-k/, each stage training the model
            the one before it merged)
  after/    the same profile of sft/model + retention.json
  summary.json, report.html, plots: before / after / target and the verdict

A finished step is skipped when the command is run again; an interrupted one continues (profiles by
chunks, training from its last checkpoint). Changing the data or training settings retrains and
re-profiles; changing the target, model, seed or battery in the same folder is refused.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from econalign import EconalignError
from econalign.io import read_json, writable_dir, write_json, write_text
from econalign.preferences import RiskPreference, parse_preference
from econalign.training.config import AlignData, AlignRunConfig, DataConfig, SFTRunConfig

# What a rerun in the same folder may not change (the profiles and data depend on all of them).
FIXED = ("preference", "model", "seed", "quick")


def battery_of(spec: str) -> str:
    return "risk" if isinstance(parse_preference(spec), RiskPreference) else "social"


def run_align(config: AlignRunConfig, say: Callable[[str], None] = print) -> dict:
    from econalign.backends.hf import check_model

    check_model(config.model)  # a wrong model leaves no output folder behind
    out = writable_dir(config.output_dir)
    check_same_target(out / "config.yaml", config)
    write_text(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    battery = battery_of(config.preference)
    start = time.perf_counter()
    say(f"[1/5] profile of {config.model} before training ({battery} battery, next-token logits)")
    before = profile_step(config.model, out / "before", config, battery)
    stages = stage_folders(out, len(config.data))
    say("[2/5] direct-decision training data" + (f" ({len(stages)} stages)" if len(stages) > 1 else ""))
    datas, retrain_from = [], len(stages)
    for k, (part, (data_dir, _)) in enumerate(zip(config.data, stages)):
        data, remade = data_step(config, part, data_dir, config.seed + k)
        if remade:  # a model trained on other data, the stages after it, and its profile no longer fit
            retrain_from = min(retrain_from, k)
        datas.append(data)
        say(f"      {data['n']} items {data['shapes']}, answers {data['answers']}; "
            f"battery items in the data: {data['battery_items_in_data']}")
    say("[3/5] fine-tuning (LoRA)")
    sfts, model, trained = [], config.model, False
    for k, (part, (data_dir, sft_dir)) in enumerate(zip(config.data, stages)):
        if k >= retrain_from or trained:  # its data, or the model it starts from, changed
            shutil.rmtree(sft_dir, ignore_errors=True)
        sft, retrained = train_step(config, sft_config(config, part, model, data_dir, sft_dir), part.noise, say)
        trained |= retrained
        sfts.append(sft)
        model = str(sft_dir / "model")
        say(f"      {sft['global_step']} steps, loss {fmt_loss(sft['first_loss'])} → {fmt_loss(sft['last_loss'])}")
    if trained:
        shutil.rmtree(out / "after", ignore_errors=True)  # a profile of the old weights
    say("[4/5] profile of the trained model")
    after = profile_step(model, out / "after", config, battery)
    say("[5/5] report")
    from econalign.measure.align_report import write_align_report

    summary = write_align_report(config, battery, before, after, datas, sfts, out, time.perf_counter() - start)
    return summary


def stage_folders(out: Path, k: int) -> list[tuple[Path, Path]]:
    """(data, sft) folder of each stage: data/ and sft/ for one item set, data-i/ and sft-i/ for a curriculum."""
    if k == 1:
        return [(out / "data", out / "sft")]
    return [(out / f"data-{i}", out / f"sft-{i}") for i in range(1, k + 1)]


def fmt_loss(x) -> str:
    return "—" if x is None else f"{x:.4f}"


def check_same_target(saved: Path, config: AlignRunConfig) -> None:
    if not saved.exists():
        return
    old = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
    new = config.model_dump(mode="json")
    changed = [k for k in FIXED if old.get(k) != new.get(k)]
    if changed:
        raise EconalignError(f"{saved.parent} holds an align run with another {', '.join(changed)}; "
                             "use another output folder")


def profile_step(model: str, folder: Path, config: AlignRunConfig, battery: str) -> dict:
    """The logit profile of `model` and its perplexity on the held-out text; reused when already complete."""
    done = folder / "retention.json"
    if done.exists() and (folder / "summary.json").exists():
        return {**read_json(folder / "summary.json"), "retention": read_json(done)}
    from econalign.backends import load_backend
    from econalign.measure.profile import profile
    from econalign.measure.retention import perplexity

    folder = writable_dir(folder)
    start = time.perf_counter()
    backend = load_backend(model, batch_size=config.batch_size)
    load_seconds = time.perf_counter() - start
    summary = profile(backend, folder, config.quick, config.seed, "logits", load_seconds, battery=battery)
    retention = {**perplexity(backend.model, backend.tokenizer), "mean_option_mass": summary["answers"]["mean_option_mass"]}
    write_json(done, retention)  # last: its presence marks the step complete
    return {**summary, "retention": retention}


def data_step(config: AlignRunConfig, part: AlignData, folder: Path, seed: int) -> tuple[dict, bool]:
    """train.jsonl of direct decisions, and whether it was made now rather than found with the same settings."""
    from econalign.data.decisions import decision_records
    from econalign.io import jsonl

    settings = {"preference": config.preference, "seed": seed, **part.model_dump(mode="json", exclude={"epochs"})}
    saved = folder / "summary.json"
    if saved.exists() and (folder / "train.jsonl").exists() and read_json(saved).get("settings") == settings:
        return read_json(saved), False
    folder = writable_dir(folder)
    records, summary = decision_records(config.preference, part.n, seed, part.noise, part.shapes, draws=part.draws)
    if summary["battery_items_in_data"]:  # cannot happen by construction; refuse rather than train on the test
        raise EconalignError(f"{summary['battery_items_in_data']} battery items in the training data")
    write_text(folder / "train.jsonl", jsonl(records))
    summary = {"settings": settings, **summary}
    write_json(saved, summary)
    return summary, True


def sft_config(config: AlignRunConfig, part: AlignData, model: str, data: Path, folder: Path) -> SFTRunConfig:
    training = config.training.model_copy(update={"epochs": part.epochs}) if part.epochs else config.training
    return SFTRunConfig(model=model, data=DataConfig(paths=[data / "train.jsonl"], seed=config.seed),
                        output_dir=folder, seed=config.seed, training=training, lora=config.lora)


def train_step(config: AlignRunConfig, sft: SFTRunConfig, noise: float, say) -> tuple[dict, bool]:
    """The fine-tuning summary, and whether training ran now (False: a finished run with the same config)."""
    from econalign.training.cached import train_cached
    from econalign.training.sft import train_sft

    folder = Path(sft.output_dir)
    settings = sft.model_dump(mode="json") | ({"trainer": "cached", "noise": noise} if config.trainer == "cached" else {})
    same = (folder / "config.yaml").exists() and yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) \
        == settings
    if same and (folder / "summary.json").exists() and (folder / "model").exists():
        return read_json(folder / "summary.json"), False
    if (folder / "config.yaml").exists() and not same:
        shutil.rmtree(folder)  # other data or settings: its checkpoints do not fit
    if config.trainer == "cached":
        write_text(writable_dir(folder) / "config.yaml", yaml.safe_dump(settings, sort_keys=False))
        return train_cached(sft, noise, say), True
    result = train_sft(sft, resume=True)
    return read_json(Path(result.output_dir) / "summary.json"), True

"""Cache the hidden states entering layers 18 and 24 of the default model, for the full risk battery and
for training items, so that the top layers can be trained for many steps without re-running the bottom.

    python cache.py battery          # the 332 battery items            -> $EXP_DIR/battery.pt
    python cache.py train 1000       # decisions.draw_items, r = 2 labels -> $EXP_DIR/train1000.pt
    python cache.py simple           # 480 x (50% x $1,000 or $0 vs a sure $S, S uniform) -> $EXP_DIR/simple.pt
    python cache.py stakes           # the same with the stake drawn from decisions.STAKES (never $1,000) -> stakes.pt
    python cache.py curves 1000      # the battery's own lotteries, new sure amounts / mixed gains / HL scales -> curves1000.pt
"""
import os, sys, time, torch, numpy as np
from econalign.backends.hf import HFBackend
from econalign.data import decisions
from econalign.preferences.base import Lottery
from econalign.preferences.spec import parse_preference
from econalign.measure.risk import risk_battery
from econalign.tasks import gamble

DIR = os.environ.get("EXP_DIR", "/tmp/exp"); LAYERS = (18, 24)
torch.set_num_threads(2)
be = HFBackend.load("default")
tok = be.tokenizer


def run(tasks, name):
    ids = [tok(be.render(t), add_special_tokens=False)["input_ids"] for t in tasks]
    out_states = {L: [None] * len(ids) for L in LAYERS}
    t0 = time.time()
    with torch.inference_mode():
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for s in range(0, len(order), 16):
            idx = order[s:s + 16]
            w = max(len(ids[i]) for i in idx)
            x = torch.full((len(idx), w), tok.pad_token_id)
            for r, i in enumerate(idx): x[r, :len(ids[i])] = torch.tensor(ids[i])  # right pad: causal, no mask needed
            out = be.model(input_ids=x, output_hidden_states=True)
            for L in LAYERS:
                for r, i in enumerate(idx):
                    out_states[L][i] = out.hidden_states[L][r, :len(ids[i])].clone()
            if s % 320 == 0: print(name, s, len(ids), f"{time.time()-t0:.0f}s", flush=True)
    os.makedirs(DIR, exist_ok=True)
    torch.save({"tasks": [t.to_dict() for t in tasks], "ids": ids, "states": out_states}, f"{DIR}/{name}.pt")


what = sys.argv[1]
if what == "battery":
    run(risk_battery(quick=False), "battery")
elif what == "train":
    n = int(sys.argv[2])
    tasks, _, _ = decisions.draw_items(decisions.RISK_SHAPES, n, parse_preference("crra:r=2"), np.random.default_rng(1))
    run(tasks, f"train{n}")
elif what == "stakes":  # two quantities vary: the stake (wealth = stake, so r = 2's CE is a third of it) and S
    rng = np.random.default_rng(6)
    tasks = []
    for _ in range(480):
        s = float(rng.choice(decisions.STAKES))
        tasks.append(gamble.make(Lottery.binary(0.5, s, 0.0), float(np.round(rng.uniform(0, s))), s,
                                 sure_first=bool(rng.integers(2))))
    run(tasks, "stakes")
elif what == "curves":
    n = int(sys.argv[2])
    # the package's curve draws (decisions.curve_item; the figures of 2026-12-03 used this file's earlier copy of
    # it, commit bb79724: the same design, other items)
    tasks, _, rejected = decisions.draw_items(decisions.RISK_SHAPES, n, parse_preference("crra:r=2"),
                                              np.random.default_rng(7), draws="curves")
    print("battery items drawn and dropped", rejected, flush=True)
    run(tasks, f"curves{n}")
else:
    rng = np.random.default_rng(5)
    g = Lottery.binary(0.5, 1000.0, 0.0)
    run([gamble.make(g, float(np.round(rng.uniform(0, 1000))), 1000.0, sure_first=bool(rng.integers(2)))
         for _ in range(480)], "simple")

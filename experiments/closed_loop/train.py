"""Train the top layers on cached hidden states; evaluate on the cached battery."""
from scores import battery_figures
import os, argparse, copy, time, json, torch, numpy as np
from econalign.backends.hf import HFBackend
from econalign.tasks.base import Task
from econalign.data.decisions import label_probabilities
from econalign.preferences.spec import parse_preference

ap = argparse.ArgumentParser()
ap.add_argument("--layer", type=int, default=24)
ap.add_argument("--train", default="train1000")
ap.add_argument("--pref", default="crra:r=2")
ap.add_argument("--lr", type=float, default=1e-4)
ap.add_argument("--epochs", type=float, default=2)
ap.add_argument("--bs", type=int, default=16)
ap.add_argument("--noise", type=float, default=0.05)
ap.add_argument("--hard", action="store_true")
ap.add_argument("--lora", type=int, default=0)
ap.add_argument("--two", action="store_true")
ap.add_argument("--train_layers", type=int, default=99)
ap.add_argument("--check", action="store_true")
ap.add_argument("--eval_every", type=int, default=100)
ap.add_argument("--init", default="", help="start from a LoRA state saved by --save (a curriculum)")
ap.add_argument("--save", default="", help="write the trained LoRA state here")
ap.add_argument("--shapes", default="", help="keep only these training shapes, e.g. gains")
a = ap.parse_args()
torch.manual_seed(0); torch.set_num_threads(2)
be = HFBackend.load("default"); tok = be.tokenizer
pref = parse_preference(a.pref)
full = be.model
top = copy.deepcopy(full)
top.model.layers = torch.nn.ModuleList(list(top.model.layers)[a.layer:])
top.config.num_hidden_layers = len(top.model.layers)
top.model.embed_tokens.weight.requires_grad_(False)

def load(name):
    d = torch.load(os.environ.get("EXP_DIR", "/tmp/exp") + f"/{name}.pt")
    tasks = [Task(**t) for t in d["tasks"]]
    return tasks, d["ids"], d["states"][a.layer]
bt, bids, bstates = load("battery")
tt, tids, tstates = load(a.train)
if a.shapes:
    from econalign.data.decisions import shape_of
    keep = [i for i, t in enumerate(tt) if shape_of(t) in a.shapes.split(",")]
    tt, tids, tstates = [tt[i] for i in keep], [tids[i] for i in keep], [tstates[i] for i in keep]
    print("training items", len(tt), flush=True)
opt_ids = {}
def groups(options):
    return opt_ids.setdefault(tuple(options), be.option_token_ids(list(options)))
def canon(o): return tok.encode(o, add_special_tokens=False)[0]

def forward(states_list):
    w = max(s.shape[0] for s in states_list)
    x = torch.zeros(len(states_list), w, states_list[0].shape[1])
    for r, s in enumerate(states_list): x[r, :s.shape[0]] = s
    base = top.base_model.model.model if a.lora and hasattr(top, "base_model") else top.model
    head = top.base_model.model.lm_head if a.lora and hasattr(top, "base_model") else top.lm_head
    h = base(inputs_embeds=x, use_cache=False).last_hidden_state
    last = torch.tensor([s.shape[0]-1 for s in states_list])
    return head(h[torch.arange(len(states_list)), last])

def battery_probs():
    top.eval(); P = []
    with torch.inference_mode():
        for s in range(0, len(bt), 32):
            logp = torch.log_softmax(forward(bstates[s:s+32]).float(), -1)
            for r, t in enumerate(bt[s:s+32]):
                g = groups(t.options)
                lo = torch.stack([torch.logsumexp(logp[r, gi], 0) for gi in g])
                P.append(torch.softmax(lo, 0).numpy())
    top.train(); return np.array(P)

tp = label_probabilities(pref, bt, 0.0)  # target's exact choices on the battery
def evaluate(step):
    print(json.dumps({"step": step, **battery_figures(bt, battery_probs(), tp)}), flush=True)

if a.check:
    with torch.inference_mode():
        texts = [be.render(t) for t in bt[:8]]
        ref = torch.stack([full(input_ids=torch.tensor([i])).logits[0, -1] for i in bids[:8]])
        got = forward(bstates[:8])
        print("max |diff|", (ref - got).abs().max().item())

if a.lora:
    from peft import LoraConfig, get_peft_model
    top = get_peft_model(top, LoraConfig(r=a.lora, lora_alpha=2*a.lora, target_modules=["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"]))
else:
    for n, p in top.named_parameters():
        k = int(n.split("layers.")[1].split(".")[0]) if "layers." in n else None
        p.requires_grad_((k is not None and k >= len(top.model.layers) - a.train_layers) or "model.norm" in n)
if a.init:
    from peft import set_peft_model_state_dict
    set_peft_model_state_dict(top, torch.load(a.init))
params = [p for p in top.parameters() if p.requires_grad]
print("trainable", sum(p.numel() for p in params))
opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
ptrain = label_probabilities(pref, tt, a.noise)
if a.hard: ptrain = (ptrain == ptrain.max(1, keepdims=True)).astype(float)
targets = [[canon(o) for o in t.options] for t in tt]
steps = int(a.epochs * len(tt) / a.bs)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s+1)/20) * 0.5 * (1 + np.cos(np.pi * s / steps)))
rng = np.random.default_rng(0)
order = np.concatenate([rng.permutation(len(tt)) for _ in range(int(np.ceil(a.epochs)) + 1)])
evaluate(0); t0 = time.time(); run = []
for step in range(steps):
    idx = order[step*a.bs:(step+1)*a.bs]
    logp = torch.log_softmax(forward([tstates[i] for i in idx]).float(), -1)
    loss = 0
    for r, i in enumerate(idx):
        if a.two:
            g = groups(tt[i].options)
            lo = torch.stack([torch.logsumexp(logp[r, gi], 0) for gi in g])
            loss = loss - sum(ptrain[i][k] * torch.log_softmax(lo, 0)[k] for k in range(len(g))) - 0.1 * torch.logsumexp(lo, 0)
        else:
            loss = loss - sum(ptrain[i][k] * logp[r, targets[i][k]] for k in range(len(targets[i])))
    loss = loss / len(idx)
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    run.append(loss.item())
    if (step+1) % 25 == 0: print(f"step {step+1}/{steps} loss {np.mean(run[-25:]):.4f} {time.time()-t0:.0f}s", flush=True)
    if (step+1) % a.eval_every == 0 or step+1 == steps: evaluate(step+1)
if a.save:
    from peft import get_peft_model_state_dict
    torch.save(get_peft_model_state_dict(top), a.save)

"""Can LoRA on the top layers learn the r=2 threshold on the simple set (50% x 1000 vs sure S)?"""
import os, argparse, copy, time, json, torch, numpy as np
from econalign.backends.hf import HFBackend
from econalign.tasks.base import Task
ap = argparse.ArgumentParser()
ap.add_argument("--layer", type=int, default=24)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--steps", type=int, default=150)
ap.add_argument("--bs", type=int, default=16)
ap.add_argument("--rank", type=int, default=8)
ap.add_argument("--lora_layers", default="0,1")   # relative to the truncated model
ap.add_argument("--full", action="store_true")
ap.add_argument("--label", default="r2")
a = ap.parse_args()
torch.manual_seed(0); torch.set_num_threads(2)
be = HFBackend.load("default"); tok = be.tokenizer
top = copy.deepcopy(be.model)
top.model.layers = torch.nn.ModuleList(list(top.model.layers)[a.layer:])
top.config.num_hidden_layers = len(top.model.layers)
d = torch.load(os.environ.get("EXP_DIR", "/tmp/exp") + "/simple.pt")
tasks = [Task(**t) for t in d["tasks"]]; states = d["states"][a.layer]
S = np.array([t.params["sure"] for t in tasks])
lab = np.where(S > 333, 0, 1)  # r = 2 (CE $333): accept the sure amount (option 0) above it
if a.label == "order": lab = np.array([0 if t.params["sure_first"] else 1 for t in tasks])
rng = np.random.default_rng(0); perm = rng.permutation(len(tasks)); tr, te = perm[:400], perm[400:]
g = [be.option_token_ids(["accept", "reject"])][0]
def forward(sl):
    w = max(s.shape[0] for s in sl)
    x = torch.zeros(len(sl), w, sl[0].shape[1])
    for r, s in enumerate(sl): x[r, :s.shape[0]] = s
    m = top.base_model.model if hasattr(top, "base_model") else top
    h = m.model(inputs_embeds=x, use_cache=False).last_hidden_state
    last = torch.tensor([s.shape[0]-1 for s in sl])
    logp = torch.log_softmax(m.lm_head(h[torch.arange(len(sl)), last]).float(), -1)
    return torch.stack([torch.logsumexp(logp[:, gi], 1) for gi in g], 1)  # (n, 2) option log-mass
def evaluate(step):
    top.eval()
    with torch.inference_mode():
        lo = torch.cat([forward([states[i] for i in te[s:s+40]]) for s in range(0, len(te), 40)])
    top.train()
    p = torch.softmax(lo, 1)[:, 0].numpy()
    acc = float(((p > 0.5) == (lab[te] == 0)).mean())
    bins = [p[(S[te] >= lo_) & (S[te] < lo_ + 200)].mean().round(2) for lo_ in range(0, 1000, 200)]
    print(json.dumps({"step": step, "test_acc": round(acc, 3), "P(accept) by S/200": [float(b) for b in bins], "mass": float(torch.exp(lo).sum(1).mean())}), flush=True)
if a.full:
    keep = {int(x) for x in a.lora_layers.split(",")}
    for n, p in top.named_parameters():
        p.requires_grad_("layers." in n and int(n.split("layers.")[1].split(".")[0]) in keep)
else:
    from peft import LoraConfig, get_peft_model
    top = get_peft_model(top, LoraConfig(r=a.rank, lora_alpha=2*a.rank, layers_to_transform=[int(x) for x in a.lora_layers.split(",")],
        target_modules=["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"]))
params = [p for p in top.parameters() if p.requires_grad]
print("trainable", sum(p.numel() for p in params), flush=True)
opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
order = np.concatenate([rng.permutation(tr) for _ in range(a.steps * a.bs // len(tr) + 2)])
evaluate(0); t0 = time.time(); run = []
for step in range(a.steps):
    idx = order[step*a.bs:(step+1)*a.bs]
    lo = forward([states[i] for i in idx])
    loss = torch.nn.functional.cross_entropy(lo, torch.tensor(lab[idx])) - 0.1 * torch.logsumexp(lo, 1).mean()
    opt.zero_grad(); loss.backward(); opt.step(); run.append(loss.item())
    if (step+1) % 25 == 0:
        print(f"step {step+1} loss {np.mean(run[-25:]):.3f} {time.time()-t0:.0f}s", flush=True); evaluate(step+1)

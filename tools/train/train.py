#!/usr/bin/python3
"""Trains the Llama-architecture needle model on data.py's output with a length curriculum.

AdamW, linear warm-up then cosine decay over all stages, gradient clipping, a weighted next-token loss
(answer tokens 1, plain text --text-weight, task prompt --prompt-weight). Batches are drawn from
(seed, step) alone, so a resumed run sees the same batches as an uninterrupted one. Checkpoints
(model, optimizer, step, config) go to OUT/ckpt.pt; --resume continues from there.

  /usr/bin/python3 tools/train/train.py --data-dir /work/train-runs/data --out /work/train-runs/run1 \
      --curriculum 256:300,512:300,1024:400 --device cpu
"""
import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model import LlamaModel, ModelConfig

CLS_NONE, CLS_PROMPT, CLS_ANSWER, CLS_TEXT = 0, 1, 2, 3


class Records:
    """One data.py file: records as flat token/class arrays with offsets."""

    def __init__(self, path):
        d = np.load(path)
        self.tokens, self.classes, self.offsets = d["tokens"], d["classes"], d["offsets"]
        self.task, self.task_names = d["task"], [str(x) for x in d["task_names"]]

    def __len__(self):
        return len(self.offsets) - 1

    def batch(self, idx, device):
        """Right-padded [B, T] tokens and classes (padding: class 0, no loss)."""
        lens = [int(self.offsets[i + 1] - self.offsets[i]) for i in idx]
        T = max(lens)
        tok = np.full((len(idx), T), 2, dtype=np.int64)
        cls = np.zeros((len(idx), T), dtype=np.int64)
        for b, i in enumerate(idx):
            s, e = self.offsets[i], self.offsets[i + 1]
            tok[b, :e - s], cls[b, :e - s] = self.tokens[s:e], self.classes[s:e]
        return torch.from_numpy(tok).to(device), torch.from_numpy(cls).to(device)


def parse_curriculum(text):
    """'256:300,1024+2048:400' -> [((256,), 300), ((1024, 2048), 400)]. A stage naming several lengths
    alternates them step by step, so training on one length does not erase what the other taught."""
    stages = []
    for item in text.split(","):
        lengths, steps = item.split(":")
        stages.append((tuple(int(x) for x in lengths.split("+")), int(steps)))
    return stages


def longest(stages):
    return max(max(lengths) for lengths, _ in stages)


def stage_at(stages, step):
    start = 0
    for lengths, steps in stages:
        if step < start + steps:
            return lengths[(step - start) % len(lengths)]
        start += steps
    return stages[-1][0][-1]


def lr_at(args, step, total):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def loss_terms(model, tok, cls, class_weight):
    """Weighted loss, answer loss, and teacher-forced answer exact match per sequence."""
    logits = model(tok[:, :-1])
    tgt, tcls = tok[:, 1:], cls[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none").view(tgt.shape)
    w = class_weight[tcls]
    loss = (ce * w).sum() / w.sum().clamp_min(1e-9)
    ans = tcls == CLS_ANSWER
    ans_loss = (ce * ans).sum() / ans.sum().clamp_min(1)
    correct = (logits.argmax(-1) == tgt) | ~ans
    has_ans = ans.any(1)
    exact = (correct.all(1) & has_ans).float().sum() / has_ans.float().sum().clamp_min(1)
    return loss, ans_loss, exact, correct.all(1), has_ans


@torch.no_grad()
def validate(model, val, device, class_weight, batch_size):
    """Teacher-forced exact match of the answers per task on the test-split records."""
    model.eval()
    hits, counts, losses = {}, {}, []
    for s in range(0, len(val), batch_size):
        idx = list(range(s, min(len(val), s + batch_size)))
        tok, cls = val.batch(idx, device)
        _, ans_loss, _, ok, has = loss_terms(model, tok, cls, class_weight)
        losses.append(float(ans_loss))
        for j, i in enumerate(idx):
            if has[j]:
                name = val.task_names[val.task[i]]
                hits[name] = hits.get(name, 0) + int(ok[j])
                counts[name] = counts.get(name, 0) + 1
    model.train()
    return {k: hits[k] / counts[k] for k in sorted(counts)}, float(np.mean(losses)) if losses else float("nan")


def save_checkpoint(path, model, opt, step, args, config):
    tmp = str(path) + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "config": config.to_dict(), "args": vars(args)}, tmp)
    os.replace(tmp, path)


def reexec_with_malloc_settings():
    """glibc returns big freed blocks to the OS, so every step page-faults its activations in again (most
    of the CPU time went to the kernel). Keeping blocks up to 32 MiB in the heap avoids that; the
    variables must be set before the process starts, hence the re-exec."""
    if sys.platform.startswith("linux") and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(32 << 20), MALLOC_TRIM_THRESHOLD_=str(1 << 34))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main():
    reexec_with_malloc_settings()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", required=True, help="run folder: ckpt.pt, log.jsonl (keep it outside the repo)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--curriculum", default="256:300,512:300,1024:400",
                    help="length:steps,... in order; length may be A+B (alternate A and B step by step)")
    ap.add_argument("--batch-tokens", type=int, default=16384, help="tokens per step; batch = this / length")
    ap.add_argument("--micro-batch-tokens", type=int, default=2048, help="tokens per forward/backward pass")
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--n-heads", type=int, default=8)
    ap.add_argument("--n-kv-heads", type=int, default=2)
    ap.add_argument("--d-ff", type=int, default=768)
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--tie-embeddings", action="store_true")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--prompt-weight", type=float, default=0.1, help="loss weight of task-prompt tokens")
    ap.add_argument("--text-weight", type=float, default=1.0, help="loss weight of plain-text tokens")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this step (0 = whole curriculum)")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this wall time")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt if it exists")
    ap.add_argument("--init-gguf", help="start from the weights of an exported GGUF (e.g. the shipped model; "
                    "fresh optimizer, step 0) instead of a random init")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(args.data_dir)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    stages = parse_curriculum(args.curriculum)
    total = sum(s for _, s in stages)
    # Loaded when their stage starts, so later stages' data may still be being generated.
    train_sets, val_sets = {}, {}

    def load_stage(length):
        if length not in train_sets:
            train_sets[length] = Records(data_dir / f"train_{length}.npz")
            if (data_dir / f"val_{length}.npz").exists():
                val_sets[length] = Records(data_dir / f"val_{length}.npz")

    ckpt_path = out / "ckpt.pt"
    state = torch.load(ckpt_path, map_location="cpu") if args.resume and ckpt_path.exists() else None
    if state:
        config = ModelConfig(**state["config"])
    else:
        config = ModelConfig(vocab_size=manifest["vocab_size"], d_model=args.d_model, n_layers=args.n_layers,
                             n_heads=args.n_heads, n_kv_heads=args.n_kv_heads, d_ff=args.d_ff,
                             rope_base=args.rope_base, max_len=longest(stages),
                             tie_embeddings=args.tie_embeddings)
    init_sd = None
    if args.init_gguf and not state:
        from export_gguf import load_gguf
        config, init_sd = load_gguf(args.init_gguf)
    # A resumed or initialised run may add longer stages: context_length is the longest length trained on.
    config.max_len = max(config.max_len, longest(stages))
    torch.manual_seed(args.seed)
    model = LlamaModel(config).to(device)
    if init_sd is not None:
        model.load_state_dict(init_sd)
        print(f"initialised from {args.init_gguf}", file=sys.stderr)
    # No weight decay on norms (1-D) ; decay on matrices and embeddings.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    step = 0
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        print(f"resumed from {ckpt_path} at step {step}", file=sys.stderr)
    class_weight = torch.tensor([0.0, args.prompt_weight, 1.0, args.text_weight], device=device)
    print(f"model: {model.n_params() / 1e6:.2f}M params {config.to_dict()}; curriculum {stages}; device {device}, "
          f"{torch.get_num_threads()} threads", file=sys.stderr)

    log = open(out / "log.jsonl", "a")
    t_start = time.time()
    t_log, tok_log = time.time(), 0
    last_ckpt = step
    while step < total and (args.max_steps == 0 or step < args.max_steps):
        length = stage_at(stages, step)
        load_stage(length)
        recs = train_sets[length]
        bsz = max(1, args.batch_tokens // length)
        rng = np.random.default_rng([args.seed, step])
        idx = rng.choice(len(recs), size=min(bsz, len(recs)), replace=False)
        tok, cls = recs.batch(idx, device)
        lr = lr_at(args, step, total)
        for g in opt.param_groups:
            g["lr"] = lr
        # Gradient accumulation over micro-batches: the same gradient (each part weighted by its share of
        # the batch's loss weight), but [T, T] attention buffers small enough to be reused, not re-faulted.
        opt.zero_grad(set_to_none=True)
        mb = max(1, args.micro_batch_tokens // length)
        w_total = class_weight[cls[:, 1:]].sum().clamp_min(1e-9)
        loss = ans_loss = exact = 0.0
        for s in range(0, tok.shape[0], mb):
            t_mb, c_mb = tok[s:s + mb], cls[s:s + mb]
            share = class_weight[c_mb[:, 1:]].sum() / w_total
            l_mb, a_mb, e_mb, _, _ = loss_terms(model, t_mb, c_mb, class_weight)
            (l_mb * share).backward()
            frac = t_mb.shape[0] / tok.shape[0]
            loss, ans_loss, exact = loss + float(l_mb * share), ans_loss + float(a_mb) * frac, exact + float(e_mb) * frac
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        tok_log += int(tok.numel())
        if step % args.log_every == 0 or step == total:
            dt = time.time() - t_log
            rec = {"step": step, "length": length, "loss": round(loss, 4), "answer_loss": round(ans_loss, 4),
                   "answer_exact": round(exact, 3), "lr": lr, "grad_norm": round(float(gnorm), 3),
                   "tokens_per_s": round(tok_log / dt, 1), "elapsed_s": round(time.time() - t_start, 1)}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            t_log, tok_log = time.time(), 0
        if length in val_sets and (step % args.val_every == 0 or step == total):
            acc, vloss = validate(model, val_sets[length], device, class_weight, max(1, args.micro_batch_tokens // length))
            rec = {"step": step, "val_length": length, "val_answer_loss": round(vloss, 4),
                   "val_exact": {k: round(v, 3) for k, v in acc.items()}}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            t_log = time.time()  # validation time is not training throughput
        timed_out = args.max_minutes and time.time() - t_start > 60 * args.max_minutes
        if step % args.ckpt_every == 0 or step == total or timed_out:
            save_checkpoint(ckpt_path, model, opt, step, args, config)
            last_ckpt = step
        if timed_out:
            print(f"stopping after {args.max_minutes} min at step {step}", file=sys.stderr)
            break
    if last_ckpt != step:
        save_checkpoint(ckpt_path, model, opt, step, args, config)
    print(f"done: step {step}/{total}, {time.time() - t_start:.0f} s; checkpoint {ckpt_path}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Exports a train.py checkpoint as a standard GGUF "llama" model with its SentencePiece tokenizer.

Torch's Linear weight [out, in] is exactly the GGUF row layout (ne = [in, out]), and the trainer's RoPE
already rotates adjacent pairs as GGUF llama does, so every tensor is copied as is.

  /usr/bin/python3 tools/train/export_gguf.py --ckpt /work/train-runs/run1/ckpt.pt \
      --tokenizer-dir /work/train-runs/tok --out models/kvpress-needle-5m.gguf [--dtype f32|f16]
"""
import argparse
import sys
from pathlib import Path

import torch

import gguf_io
import spm_vocab
from model import ModelConfig

# Tensors kept in F32 even with --dtype f16 (small, and the engine converts 1-D tensors to f32 anyway).
_ALWAYS_F32 = ("_norm.weight",)


def size_name(n_params):
    return f"{n_params / 1e6:.0f}m" if n_params >= 1e6 else f"{n_params / 1e3:.0f}k"


def tensor_map(c):
    """(GGUF tensor name, model state_dict key) for every weight, in file order."""
    out = [("token_embd.weight", "tok_embd.weight")]
    for l in range(c.n_layers):
        p, b = f"blk.{l}.", f"blocks.{l}."
        out += [(p + "attn_norm.weight", b + "attn_norm.weight"), (p + "attn_q.weight", b + "attn.wq.weight"),
                (p + "attn_k.weight", b + "attn.wk.weight"), (p + "attn_v.weight", b + "attn.wv.weight"),
                (p + "attn_output.weight", b + "attn.wo.weight"), (p + "ffn_norm.weight", b + "ffn_norm.weight"),
                (p + "ffn_gate.weight", b + "ffn.w_gate.weight"), (p + "ffn_up.weight", b + "ffn.w_up.weight"),
                (p + "ffn_down.weight", b + "ffn.w_down.weight")]
    out.append(("output_norm.weight", "out_norm.weight"))
    if not c.tie_embeddings:
        out.append(("output.weight", "output.weight"))
    return out


def load_gguf(path):
    """(ModelConfig, state_dict) of a GGUF this script exported (F32 or F16), so training can continue from
    the shipped model itself (with a fresh optimizer state)."""
    meta, tensors = gguf_io.read_gguf(path)
    a = "llama."
    c = ModelConfig(vocab_size=meta[a + "vocab_size"], d_model=meta[a + "embedding_length"],
                    n_layers=meta[a + "block_count"], n_heads=meta[a + "attention.head_count"],
                    n_kv_heads=meta[a + "attention.head_count_kv"], d_ff=meta[a + "feed_forward_length"],
                    rope_base=meta[a + "rope.freq_base"], rms_eps=meta[a + "attention.layer_norm_rms_epsilon"],
                    max_len=meta[a + "context_length"], tie_embeddings="output.weight" not in tensors)
    return c, {key: torch.from_numpy(tensors[name].copy()) for name, key in tensor_map(c)}


def export(ckpt_path, tokenizer_dir, out_path, dtype="f32", name=None):
    state = torch.load(ckpt_path, map_location="cpu")
    c = ModelConfig(**state["config"])
    sd = state["model"]
    sp = spm_vocab.load(Path(tokenizer_dir) / "spm.model")
    if sp.get_piece_size() != c.vocab_size:
        sys.exit(f"tokenizer has {sp.get_piece_size()} tokens but the model's vocab is {c.vocab_size}")
    n_params = sum(v.numel() for v in sd.values())

    w = gguf_io.GgufWriter()
    w.add_string("general.architecture", "llama")
    w.add_string("general.name", name or f"kvpress-needle-{size_name(n_params)}")
    w.add_string("general.description", "small Llama-architecture model trained on RULER-style long-context "
                 "tasks by kvpress.cpp tools/train (plain-text prompts, no chat template)")
    w.add_uint32("general.file_type", 0 if dtype == "f32" else 1)
    w.add_uint32("general.quantization_version", 2)
    w.add_uint32("llama.context_length", c.max_len)
    w.add_uint32("llama.embedding_length", c.d_model)
    w.add_uint32("llama.block_count", c.n_layers)
    w.add_uint32("llama.feed_forward_length", c.d_ff)
    w.add_uint32("llama.attention.head_count", c.n_heads)
    w.add_uint32("llama.attention.head_count_kv", c.n_kv_heads)
    w.add_uint32("llama.attention.key_length", c.head_dim)
    w.add_uint32("llama.attention.value_length", c.head_dim)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", c.rms_eps)
    w.add_float32("llama.rope.freq_base", c.rope_base)
    w.add_uint32("llama.rope.dimension_count", c.head_dim)
    w.add_uint32("llama.vocab_size", c.vocab_size)
    spm_vocab.add_tokenizer_metadata(w, sp)

    def put(gguf_name, key):
        t = sd[key].detach().float().numpy()
        ttype = gguf_io.GGML_F32 if dtype == "f32" or gguf_name.endswith(_ALWAYS_F32) else gguf_io.GGML_F16
        w.add_tensor(gguf_name, t, ttype)

    for gguf_name, key in tensor_map(c):
        put(gguf_name, key)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    w.write(out_path)
    return n_params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer-dir", required=True, help="holds spm.model (make_tokenizer.py)")
    ap.add_argument("--out", required=True, help="e.g. models/kvpress-needle-5m.gguf")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"])
    ap.add_argument("--name", help="general.name (default kvpress-needle-<size>)")
    args = ap.parse_args()
    n = export(args.ckpt, args.tokenizer_dir, args.out, args.dtype, args.name)
    print(f"wrote {args.out}: {n / 1e6:.2f}M params, {Path(args.out).stat().st_size / 1e6:.1f} MB ({args.dtype})")


if __name__ == "__main__":
    main()

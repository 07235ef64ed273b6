"""The Llama-architecture model in plain PyTorch (f32), laid out exactly as the GGUF "llama" architecture
reads it, so export is a plain copy of every weight:

  RMSNorm (x / sqrt(mean(x^2) + eps) * w), RoPE on ADJACENT pairs (2i, 2i+1) with theta_i = pos *
  base^(-2i/head_dim) (GGUF llama layout: exported Q/K weights need no permutation), grouped-query
  attention with a causal mask and 1/sqrt(head_dim) scaling, SwiGLU FFN (down(silu(gate x) * up x)),
  final RMSNorm and an output projection (or the token embedding, tied).
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    vocab_size: int = 3072
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 8
    n_kv_heads: int = 2
    d_ff: int = 768
    rope_base: float = 10000.0
    rms_eps: float = 1e-5
    max_len: int = 1024          # longest trained length; written as llama.context_length
    tie_embeddings: bool = False

    @property
    def head_dim(self):
        return self.d_model // self.n_heads

    def validate(self):
        if self.d_model % self.n_heads or self.head_dim % 2:
            raise ValueError("d_model must split into n_heads heads of even size")
        if self.n_heads % self.n_kv_heads or self.n_heads // self.n_kv_heads < 2:
            raise ValueError("GQA needs n_heads a multiple of n_kv_heads, with >= 2 query heads per KV head")
        if self.n_layers < 2:
            raise ValueError("at least 2 layers")

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, n_pos, base, device):
    """cos/sin [n_pos, head_dim/2]; angles in float64 (as the engine computes them), then f32."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return ang.cos().float().to(device), ang.sin().float().to(device)


def apply_rope(x, cos, sin):
    """x: [B, H, T, D]; rotates the adjacent pairs (x[2i], x[2i+1]) by the angle of pair i."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.wq = nn.Linear(c.d_model, c.n_heads * hd, bias=False)
        self.wk = nn.Linear(c.d_model, c.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(c.d_model, c.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(c.n_heads * hd, c.d_model, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        c, hd = self.c, self.c.head_dim
        q = self.wq(x).view(B, T, c.n_heads, hd).transpose(1, 2)       # [B, H, T, D]
        k = self.wk(x).view(B, T, c.n_kv_heads, hd).transpose(1, 2)    # [B, Hkv, T, D]
        v = self.wv(x).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin) * (1.0 / math.sqrt(hd)), apply_rope(k, cos, sin)
        g = c.n_heads // c.n_kv_heads
        # Query heads h*g .. h*g+g-1 share KV head h (the GGUF/llama.cpp grouping). One fused
        # mask + q.k^T (baddbmm) keeps the [T, T] score tensors to two (scores, softmax): on CPU the
        # attention is memory-bound and every extra copy costs.
        q = q.reshape(B * c.n_kv_heads, g * T, hd)
        k = k.reshape(B * c.n_kv_heads, T, hd)
        bias = mask.repeat(g, 1).unsqueeze(0)                                   # [1, g*T, T]
        att = torch.baddbmm(bias, q, k.transpose(-1, -2))                       # [B*Hkv, g*T, T]
        att = torch.softmax(att, dim=-1)
        y = torch.bmm(att, v.reshape(B * c.n_kv_heads, T, hd)).view(B, c.n_heads, T, hd)
        return self.wo(y.transpose(1, 2).reshape(B, T, c.n_heads * hd))


class FeedForward(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.w_gate = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.w_up = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.w_down = nn.Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x):
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Block(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(c.d_model, c.rms_eps)
        self.attn = Attention(c)
        self.ffn_norm = RMSNorm(c.d_model, c.rms_eps)
        self.ffn = FeedForward(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.ffn(self.ffn_norm(x))


class LlamaModel(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        c.validate()
        self.config = c
        self.tok_embd = nn.Embedding(c.vocab_size, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.out_norm = RMSNorm(c.d_model, c.rms_eps)
        self.output = None if c.tie_embeddings else nn.Linear(c.d_model, c.vocab_size, bias=False)
        self._init_weights()

    def _init_weights(self):
        # GPT-2 style: N(0, 0.02), residual-output projections scaled down by depth.
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * self.config.n_layers) if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, tokens):
        """tokens [B, T] (positions 0..T-1) -> logits [B, T, vocab]."""
        B, T = tokens.shape
        cos, sin = rope_tables(self.config.head_dim, T, self.config.rope_base, tokens.device)
        # Additive causal mask: 0 on and below the diagonal, -inf above.
        mask = torch.full((T, T), float("-inf"), device=tokens.device).triu(1)
        x = self.tok_embd(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin, mask)
        x = self.out_norm(x)
        w = self.tok_embd.weight if self.output is None else self.output.weight
        return F.linear(x, w)

    def n_params(self):
        return sum(p.numel() for p in self.parameters())

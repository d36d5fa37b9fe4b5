"""A small GPT written ONCE for any library that speaks PyTorch's API.

``define_gpt(lib)`` takes ``torch`` or ``minigrad`` and returns the model classes built
from ``lib.nn`` and ``lib.nn.functional``: nothing else differs between the two
versions, so equal numbers prove that minigrad gives these PyTorch idioms PyTorch's
meaning (``x.size()``, ``split(n, dim=2)``, ``view``, ``transpose(1, 2)``,
``contiguous``, ``ModuleDict``/``ModuleList`` names, weight tying, ``apply`` + ``nn.init``).

The architecture is GPT-2's (Radford et al. 2019, sec. 2.3) as laid out in nanoGPT's
``model.py``: pre-LayerNorm residual blocks, fused q/k/v projection ``c_attn``, causal
scaled dot-product attention, a 4x MLP with GELU, the output head tied to the token
embedding, and the same parameter names (``transformer.h.0.attn.c_attn.weight`` ...).
"""
import math
from dataclasses import dataclass


@dataclass
class GPTConfig:
    block_size: int = 16
    vocab_size: int = 50
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 32
    dropout: float = 0.0
    bias: bool = True


def define_gpt(lib):
    """The classes CausalSelfAttention, MLP, Block and GPT for ``lib`` (torch or minigrad)."""
    nn, F = lib.nn, lib.nn.functional

    class CausalSelfAttention(nn.Module):
        """Multi-head attention where token t only looks at tokens 0..t."""

        def __init__(self, config):
            super().__init__()
            if config.n_embd % config.n_head:
                raise ValueError(f"n_embd={config.n_embd} must be a multiple of n_head={config.n_head}")
            self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v together
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.resid_dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            B, T, C = x.size()
            head_size = C // self.n_head
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # three (B, T, C)
            # (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs): heads become a batch dimension
            q = q.view(B, T, self.n_head, head_size).transpose(1, 2)
            k = k.view(B, T, self.n_head, head_size).transpose(1, 2)
            v = v.view(B, T, self.n_head, head_size).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                               is_causal=True)  # (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again: (B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        """Position-wise feed-forward network: widen 4x, GELU, project back."""

        def __init__(self, config):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)

    class Block(nn.Module):
        """x + attention(LN(x)), then + MLP(LN(x)): the pre-LayerNorm residual block."""

        def __init__(self, config):
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP(config)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        """Token + position embeddings, n_layer blocks, a final LayerNorm, logits over the vocabulary."""

        def __init__(self, config):
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            ))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # one matrix embeds and un-embeds tokens
            self.apply(self._init_weights)
            for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            B, T = idx.size()
            if T > self.config.block_size:
                raise ValueError(f"sequence of length {T} is longer than block_size {self.config.block_size}")
            pos = lib.arange(0, T, dtype=idx.dtype, device=idx.device)  # (T,)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, C)
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, vocab)
            if targets is None:
                return logits, None
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            return logits, loss

    return CausalSelfAttention, MLP, Block, GPT

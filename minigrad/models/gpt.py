"""A GPT language model: GPT-2's architecture with nanoGPT's layout and parameter names.

    from minigrad.models.gpt import GPT, GPTConfig
    model = GPT(GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128))
    logits, loss = model(idx, targets)          # idx, targets: (B, T) int64 token ids
    out = model.generate(idx, max_new_tokens=100, temperature=0.8, top_k=10)
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.95))

The network (Radford et al. 2019, "Language Models are Unsupervised Multitask
Learners", sec. 2.3; the decoder of Vaswani et al. 2017):

    x_0 = W_te[idx] + W_pe[0..T-1]                              token + position embeddings
    x   = x + Attn(LN_1(x));  x = x + MLP(LN_2(x))              n_layer pre-LayerNorm blocks
    logits = LN_f(x) W_teᵀ                                      the head shares W_te ("weight tying",
                                                                 Press & Wolf 2017)
    Attn(h) = concat_heads(softmax(q kᵀ/√hs + causal mask) v) W_proj,  [q k v] = h W_attn
    MLP(h)  = GELU(h W_fc) W_proj,   W_fc: C -> 4C

Weights start at N(0, 0.02²), biases at 0; the two projections that write into
the residual stream (``c_proj``) start at N(0, (0.02/√(2·n_layer))²) so the
stream's variance does not grow with depth (GPT-2 paper, sec. 2.3).

The parameter names are nanoGPT's (``transformer.wte.weight``,
``transformer.h.0.attn.c_attn.weight``, ..., ``lm_head.weight``), so
``state_dict()`` loads unchanged into a PyTorch model of the same definition and
back. Shapes below: B batch, T time, C = n_embd, nh heads, hs = C/nh, V vocab.
"""
import math
from dataclasses import dataclass

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


@dataclass
class GPTConfig:
    block_size: int = 64       # longest context the position table covers
    vocab_size: int = 65
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True          # biases in Linear and LayerNorm layers (GPT-2 has them)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions 0..t only."""

    def __init__(self, config):
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"GPT: n_embd={config.n_embd} is not a multiple of n_head={config.n_head}")
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        B, T, C = x.size()
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # each (B, T, C)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        p_drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side: (B, T, C)
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)


class MLP(nn.Module):
    """Widen each position to 4C, GELU, project back to C."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        h = self.gelu(self.c_fc(x))  # (B, T, 4C)
        return self.dropout(self.c_proj(h))  # (B, T, C)


class Block(nn.Module):
    """One pre-LayerNorm transformer block: each sub-layer adds its output to the residual stream."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)


class GPT(nn.Module):
    """Embeddings, ``n_layer`` blocks, a final LayerNorm and a head tied to the token embedding."""

    def __init__(self, config):
        super().__init__()
        if config.vocab_size < 1 or config.block_size < 1:
            raise ValueError(f"GPT: vocab_size and block_size must be >= 1, got {config}")
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Tying: one Parameter object under two names. named_parameters() lists it once (as
        # transformer.wte.weight); state_dict() lists it under both names, as torch does.
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=residual_std)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def get_num_params(self, non_embedding=True):
        """Parameters counted once (the tied head is the token table); without the position table by default."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def forward(self, idx, targets=None):
        """Logits and the mean cross-entropy over targets (-1 = ignore); without targets only the last position."""
        B, T = idx.size()
        if T > self.config.block_size:
            raise ValueError(f"GPT.forward: sequence length {T} exceeds block_size {self.config.block_size}")
        pos = mg.arange(0, T, dtype=mg.int64, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C), broadcast over the batch
        x = self.transformer.drop(tok_emb + pos_emb)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)  # (B, T, C)
        x = self.transformer.ln_f(x)  # (B, T, C)
        if targets is None:  # generation needs the next token only: skip the head on the other positions
            return self.lm_head(x[:, [-1], :]), None  # (B, 1, V)
        logits = self.lm_head(x)  # (B, T, V)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)  # ()
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        """AdamW with decoupled weight decay (Loshchilov & Hutter 2019) on matrices and embeddings only.

        Parameters with 2 or more dimensions (Linear weights, the embedding tables) decay;
        biases and LayerNorm gains/shifts (1-D) do not.
        """
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return mg.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @mg.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Extend idx (B, T) by ``max_new_tokens`` tokens, each sampled from softmax(logits / temperature).

        With ``top_k``, only the k most likely tokens keep their probability (Fan et al. 2018, sec. 5.4).
        Call ``model.eval()`` first when the model has dropout.
        """
        if temperature <= 0:
            raise ValueError(f"GPT.generate: temperature must be > 0, got {temperature}")
        for _ in range(max_new_tokens):
            context = idx if idx.size(1) <= self.config.block_size else idx[:, -self.config.block_size:]  # (B, <=bs)
            logits, _ = self(context)  # (B, 1, V)
            logits = logits[:, -1, :] / temperature  # (B, V)
            if top_k is not None:
                kth, _ = logits.topk(min(top_k, logits.size(-1)))  # (B, k), largest first
                logits = logits.masked_fill(logits < kth[:, [-1]], float("-inf"))  # (B, V)
            probs = F.softmax(logits, dim=-1)  # (B, V)
            idx_next = mg.multinomial(probs, num_samples=1)  # (B, 1)
            idx = mg.cat((idx, idx_next), dim=1)  # (B, T + 1)
        return idx

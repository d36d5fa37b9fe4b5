# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 00 · A tour of minigrad
#
# minigrad is a small deep-learning framework written from scratch on NumPy (CPU) and CuPy (GPU).
# The core that everything else rests on — `Tensor`, every op, the backward pass and the NumPy/CuPy
# switch — is about three thousand lines of Python you can read top to bottom (section 4 counts them),
# and every technique is checked against closed-form math and against PyTorch. This first lesson is the tour:
#
# 1. installing it and running the tests,
# 2. tensors: how to make them and which dtype they get,
# 3. devices: the same code on the CPU and on an NVIDIA GPU,
# 4. where things live in the package,
# 5. a first training loop — linear regression — checked step by step against PyTorch.
#
# Every lesson ends in **CHECK** cells: plain `assert`s against an independent reference. If you
# change the library and break something, the lesson stops running.

# %% [markdown]
# ## 1 · Install
#
# From a fresh clone, with Python ≥ 3.10, three `make` targets do everything; each creates `.venv`
# and installs what it needs the first time:
#
# | command | what it does |
# |---|---|
# | `make demo` | `python -m minigrad.examples.demo`: a short training run on built-in data, side by side with the same run in PyTorch |
# | `make test` | the whole test suite: unit tests, MPI tests and **every lesson**, this one included (`tests/test_lessons.py` runs each as a notebook) |
# | `make lab`  | opens these lessons in JupyterLab |
#
# Each lesson is a plain-text file, `lessons/NN_topic.py`, in Jupytext's "percent" format: `# %%`
# starts a code cell, `# %% [markdown]` a text cell. JupyterLab opens it as a notebook (through
# Jupytext, in the `lessons` extra) and saves it back as the same script, so the repository never
# stores outputs and `git diff` shows only real edits. It also runs as a plain script:
# `MPLBACKEND=Agg python lessons/00_tour.py`.
#
# The only runtime dependency is NumPy. The extras — `gpu` (CuPy), `mpi` (mpi4py + MPICH),
# `test` (pytest, PyTorch, gensim, ...) and `lessons` (Jupyter, Jupytext, matplotlib) — are imported
# only by the code that needs them. The CHECK at the end of this lesson verifies that
# `import minigrad` really pulls in nothing but NumPy.

# %%
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import backend, nn

print("minigrad", mg.__version__, "| numpy", np.__version__, "| torch", torch.__version__)

# %% [markdown]
# ## 2 · Tensors
#
# A `minigrad.Tensor` wraps one raw array, `.data` — a `numpy.ndarray` on the CPU or a
# `cupy.ndarray` on the GPU — and remembers, when gradients are wanted, the operation that created
# it. The constructors mirror PyTorch: `tensor`, `zeros`, `ones`, `randn`, `arange`, and
# `manual_seed` resets the random stream behind `randn` and parameter initialisation.

# %%
mg.manual_seed(0)
a = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(a, a.shape, a.dtype, a.device)
print(mg.zeros(2, 3))
print(mg.ones((2, 3)))
print(mg.arange(5))
print(mg.randn(2, 3))
print(type(a.data), type(a.numpy()))   # .data: the raw array; .numpy(): always a host NumPy array

# %% [markdown]
# ### Which dtype?
#
# The rules are PyTorch's:
#
# | built from | dtype |
# |---|---|
# | Python floats (`1.5`, `[1.0, 2.0]`) | the **default dtype**, `float32` unless changed |
# | Python ints | `int64` |
# | a NumPy array | **its own dtype** (a `float64` array stays `float64`) |
# | `zeros`, `ones`, `randn`, new parameters | the default dtype |
# | an explicit `dtype=` | that dtype |
#
# `mg.set_default_dtype(np.float64)` changes the default, exactly like `torch.set_default_dtype`.
# The lessons that compare against closed forms to 1e-10 work in float64 — either through the
# default or simply by building tensors from float64 NumPy arrays.

# %%
print(mg.tensor(1.5).dtype, mg.tensor([1, 2]).dtype, mg.tensor(np.arange(3.0)).dtype,
      mg.tensor([1.0], dtype=np.float16).dtype)

previous = mg.get_default_dtype()
mg.set_default_dtype(np.float64)
print("after set_default_dtype(float64):", mg.tensor(1.5).dtype, mg.zeros(2).dtype, mg.randn(2).dtype)
mg.set_default_dtype(previous)


# %% [markdown]
# **CHECK** — the dtype rules agree with `torch.tensor` on the same inputs (default dtype float32),
# and `set_default_dtype` switches both libraries the same way.

# %%
def torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")

samples = [1.5, [1.0, 2.0], [1, 2], np.arange(3.0), np.arange(3.0, dtype=np.float32), np.arange(3)]
for sample in samples:
    assert str(mg.tensor(sample).dtype) == torch_dtype_name(torch.tensor(sample)), sample

previous_mg, previous_torch = mg.get_default_dtype(), torch.get_default_dtype()
try:
    mg.set_default_dtype(np.float64)
    torch.set_default_dtype(torch.float64)
    for sample in samples:
        assert str(mg.tensor(sample).dtype) == torch_dtype_name(torch.tensor(sample)), sample
    assert mg.zeros(3).dtype == np.float64 and mg.randn(3).dtype == np.float64
finally:
    mg.set_default_dtype(previous_mg)
    torch.set_default_dtype(previous_torch)
assert mg.tensor(1.5).dtype == np.float32
print("dtype rules: OK")

# %% [markdown]
# ### Operations
#
# Tensors support the arithmetic operators, `@`, indexing and the usual functions (`mg.exp`,
# `mg.tanh`, `mg.softmax`, `.sum(axis)`, ...). Shapes broadcast as in NumPy. The forward pass of
# every op is a NumPy call on `.data`, so the results are NumPy's — and PyTorch's.
#
# **CHECK** — a small expression with broadcasting, a matrix product and a softmax equals NumPy and
# PyTorch in float64 to 1e-12.

# %%
rng = np.random.default_rng(0)
A_np, B_np, b_np = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)

out = mg.softmax(mg.tanh(mg.tensor(A_np) @ mg.tensor(B_np) + mg.tensor(b_np)), axis=1)

Z = np.tanh(A_np @ B_np + b_np)
expected_np = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
expected_torch = torch.softmax(torch.tanh(torch.tensor(A_np) @ torch.tensor(B_np) + torch.tensor(b_np)), dim=1)

assert out.shape == (4, 5) and out.dtype == np.float64
np.testing.assert_allclose(out.numpy(), expected_np, rtol=1e-12, atol=1e-15)
np.testing.assert_allclose(out.numpy(), expected_torch.numpy(), rtol=1e-12, atol=1e-15)
print("ops vs NumPy and torch: OK")

# %% [markdown]
# ## 3 · Devices
#
# A device is a string, `"cpu"` or `"cuda"`, as in PyTorch. `mg.tensor(..., device="cuda")`,
# `x.to("cuda")` and `x.cuda()` put the data in a CuPy array on the GPU; `x.to("cpu")` and
# `x.numpy()` bring it back. Op code never imports CuPy: it asks
# `xp = backend.get_array_module(x)` and writes `xp.exp(x)`, which is NumPy or CuPy as the data
# requires. `minigrad/backend.py` is the one file that knows the difference, and CuPy is imported
# only the first time a GPU is asked for.
#
# Mixing devices in one op raises an error that names the op and both devices. Asking for `"cuda"`
# on a machine without CuPy or without a GPU raises a clear `RuntimeError` — the cell below shows
# whichever applies to the machine it runs on.

# %%
x_cpu = mg.tensor(np.linspace(-2.0, 2.0, 5))
device_error = None
print("array module of x_cpu:", backend.get_array_module(x_cpu.data).__name__)

if backend.cupy_available():
    x_gpu = x_cpu.to("cuda")
    y_gpu = mg.tanh(x_gpu * 2)
    print(x_gpu.device, type(x_gpu.data))
    assert y_gpu.device == "cuda" and isinstance(y_gpu.numpy(), np.ndarray)
    np.testing.assert_allclose(y_gpu.numpy(), np.tanh(2 * x_cpu.numpy()), rtol=1e-12)
    try:
        x_cpu + x_gpu
    except RuntimeError as err:
        device_error = str(err)
    print("mixing devices ->", device_error)
    assert device_error and "cpu" in device_error and "cuda" in device_error
else:
    try:
        mg.tensor([1.0, 2.0], device="cuda")
    except RuntimeError as err:
        device_error = str(err)
    print("no GPU here ->", device_error)
    assert device_error and "cuda" in device_error

# %% [markdown]
# ## 4 · Where things live
#
# The package is layered; imports only point down, so you can read it from the bottom up:
#
# ```
# lessons/*.py, minigrad/examples/*         the reader's entry points
# minigrad/word2vec/   minigrad/distributed/   minigrad/compress/
# minigrad/optim/      minigrad/nn/
# minigrad/tensor.py + minigrad/functions/ + minigrad/autograd/
# minigrad/backend.py                        numpy | cupy, device strings
# ```
#
# | where | what |
# |---|---|
# | `backend.py` | NumPy or CuPy for an array, moving data between devices, the "no GPU" errors |
# | `config.py` | `no_grad`/`enable_grad`, the default dtype, `manual_seed` |
# | `tensor.py` | `Tensor` and `Function` — the two classes autograd is made of; `tensor`, `zeros`, ... |
# | `functions/` | every op as a `Function` (forward on arrays, backward written once): arithmetic, element-wise, reductions, shape ops |
# | `autograd/` | the backward pass (a heap over generations), `autograd.grad`, `autograd.functional.hessian`, `gradcheck` |
# | `nn/` | `Module`, `Parameter`, `Linear`, `Embedding`, `RNN`, `LayerNorm`, activations, losses in `nn.functional`, `nn.utils.clip_grad_norm_` |
# | `serialization.py` | `mg.save` / `mg.load`: state dicts to `.npz`, atomic, no pickled code |
# | `optim/` | `SGD` (the exact update order of `torch.optim.SGD`), `Newton` (exact Hessian), learning-rate schedulers |
# | `compress/` | gradient compressors: `QSGD` (Alistarh et al. 2017, Elias-coded payload), `TopK` with error feedback, `FP16` — pure arrays, no MPI |
# | `distributed/` | data parallelism over MPI: `all_reduce`, a hand-written `ring_all_reduce`, `DistributedDataParallel` with buckets and optional compression |
# | `word2vec/` | skip-gram with negative sampling, with gensim's argument names |
#
# `optim/`, `compress/`, `distributed/` and `word2vec/` each get their own lessons; this one only
# uses the core. The cell below lists the files of the installed package with their number of
# lines — each one is short enough to read in a sitting — and adds up the core: `tensor.py`,
# `functions/`, `autograd/`, `backend.py` and `config.py`.
#
# **CHECK** — the claim at the top of this lesson: the core is about three thousand lines (under 3,500).

# %%
package = Path(mg.__file__).parent
core = ["tensor.py", "backend.py", "config.py", "functions/", "autograd/"]
folders, core_lines, all_lines = {}, 0, 0
for path in sorted(package.rglob("*.py")):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    relative = path.relative_to(package).as_posix()
    all_lines += lines
    if relative in core or relative.split("/")[0] + "/" in core:
        core_lines += lines
    folder = str(path.parent.relative_to(package.parent)) + "/"
    folders.setdefault(folder, []).append(f"{path.stem} ({lines})")
for folder, files in folders.items():
    print(f"{folder:22s}", ", ".join(files))
print(f"core: {core_lines} lines; whole package: {all_lines} lines")
assert 2000 < core_lines < 3500, core_lines

# %% [markdown]
# ## 5 · A first training loop: linear regression
#
# We generate data from a known linear model (the d2l.ai warm-up),
# $$y = X w^\star + b^\star + \varepsilon,\qquad w^\star = (2, -3.4),\ b^\star = 4.2,\ \varepsilon \sim \mathcal N(0, 0.01^2),$$
# and fit `net = nn.Linear(2, 1)` by minibatch stochastic gradient descent on the squared error
# $$\ell(w, b) = \frac{1}{|B|} \sum_{i \in B} \big(x_i^\top w + b - y_i\big)^2,
# \qquad (w, b) \leftarrow (w, b) - \text{lr} \cdot \nabla \ell .$$
#
# The loop is PyTorch's loop, line for line: forward, `zero_grad`, `backward`, update. The update
# works on the raw arrays `p.data` and `p.grad.data`, so it is not recorded in any graph (what
# `torch.no_grad()` achieves in PyTorch). `minigrad.optim.SGD` packages exactly this update
# (plus momentum, weight decay, ...) — see the optimisation lesson.
#
# The data are float64 NumPy arrays, so the tensors are float64 (NumPy arrays keep their dtype),
# and we ask `nn.Linear` for float64 parameters too.

# %%
rng = np.random.default_rng(0)
true_w, true_b = np.array([2.0, -3.4]), 4.2
num_examples = 1000
features = rng.standard_normal((num_examples, 2))
labels = (features @ true_w + true_b + 0.01 * rng.standard_normal(num_examples)).reshape(-1, 1)
X, y = mg.tensor(features), mg.tensor(labels)

lr, num_epochs, batch_size = 0.03, 3, 10
batches = [perm[i:i + batch_size]
           for perm in (rng.permutation(num_examples) for _ in range(num_epochs))
           for i in range(0, num_examples, batch_size)]

mg.manual_seed(0)
net = nn.Linear(2, 1, dtype=np.float64)
initial_state = {name: p.numpy().copy() for name, p in net.named_parameters()}
print(net, X.dtype, net.weight.dtype)


# %%
def train(net, X, y, lr, batches):
    losses = []
    for idx in batches:
        y_hat = net(X[idx])
        l = F.mse_loss(y_hat, y[idx])
        net.zero_grad()
        l.backward()
        for p in net.parameters():
            p.data -= lr * p.grad.data
        losses.append(l.item())
    return losses

losses = train(net, X, y, lr, batches)
print(f"loss: first batch {losses[0]:.4f}, last batch {losses[-1]:.2e}")
print("w =", net.weight.numpy().ravel(), " b =", net.bias.numpy())

# %% [markdown]
# The same loop in PyTorch, from the same initial weights and over the same minibatches. Because
# `nn.Linear` stores its weight as `(out_features, in_features)` in both libraries, the state
# copies across by name.

# %%
torch_net = torch.nn.Linear(2, 1, dtype=torch.float64)
with torch.no_grad():
    for name, p in torch_net.named_parameters():
        p.copy_(torch.from_numpy(initial_state[name]))

X_t, y_t = torch.from_numpy(features), torch.from_numpy(labels)
torch_losses = []
for idx in batches:
    idx = torch.from_numpy(idx)
    l = torch.nn.functional.mse_loss(torch_net(X_t[idx]), y_t[idx])
    torch_net.zero_grad()
    l.backward()
    with torch.no_grad():
        for p in torch_net.parameters():
            p -= lr * p.grad
    torch_losses.append(l.item())

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(losses, label="minigrad", lw=2)
ax.semilogy(torch_losses, "--", label="PyTorch", lw=1)
ax.set_xlabel("minibatch step")
ax.set_ylabel("squared error")
ax.set_title("Linear regression by SGD")
ax.legend()
plt.show()

# %% [markdown]
# **CHECK** — three independent references:
#
# 1. the loss at every one of the 300 steps and the final weights equal PyTorch's to 1e-10 (relative);
# 2. the gradient minigrad computes on the full batch equals the closed form
#    $\nabla_w \ell = \tfrac{2}{n} X^\top r,\ \nabla_b \ell = \tfrac{2}{n} \sum_i r_i$ with
#    residuals $r = Xw + b - y$, to 1e-12;
# 3. SGD landed next to the least-squares solution (`np.linalg.lstsq`). SGD with a constant step
#    keeps jittering around the minimum, by roughly lr × (gradient noise), so this one is checked to 1e-2.

# %%
np.testing.assert_allclose(losses, torch_losses, rtol=1e-10)
np.testing.assert_allclose(net.weight.numpy(), torch_net.weight.detach().numpy(), rtol=1e-10)
np.testing.assert_allclose(net.bias.numpy(), torch_net.bias.detach().numpy(), rtol=1e-10)

net.zero_grad()
F.mse_loss(net(X), y).backward()
w, b = net.weight.numpy().ravel(), net.bias.numpy()
residual = features @ w + b - labels.ravel()
np.testing.assert_allclose(net.weight.grad.numpy().ravel(), 2 / num_examples * features.T @ residual,
                           rtol=1e-12, atol=1e-15)
np.testing.assert_allclose(net.bias.grad.numpy(), [2 / num_examples * residual.sum()], rtol=1e-12, atol=1e-15)

design = np.hstack([features, np.ones((num_examples, 1))])
least_squares = np.linalg.lstsq(design, labels.ravel(), rcond=None)[0]
np.testing.assert_allclose(np.r_[w, b], least_squares, atol=1e-2)
print("training loop vs PyTorch, closed-form gradient and least squares: OK")

# %% [markdown]
# **CHECK** — `import minigrad` imports none of the optional packages (PyTorch, CuPy, mpi4py,
# matplotlib, SciPy, gensim). Run in a fresh interpreter, since this notebook imported some of them.

# %%
optional = ["torch", "cupy", "mpi4py", "matplotlib", "scipy", "gensim"]
probe = f"import sys, minigrad; print(','.join(m for m in {optional!r} if m in sys.modules))"
result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
assert result.stdout.strip() == "", f"import minigrad pulled in: {result.stdout.strip()}"
print("import minigrad loads only numpy: OK")

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it: the check compares your answer with an independent
# reference and fails on a wrong one.
#
# **Exercise 1 — the gradient by hand.** Write `mse_gradient(w, b, X, y)` returning
# $(\nabla_w \ell, \nabla_b \ell)$ for $\ell = \frac1n \sum_i (x_i^\top w + b - y_i)^2$ as NumPy arrays
# (shapes `(2,)` and `()`), using only NumPy.

# %%
def mse_gradient(w, b, X, y):
    residual = X @ w + b - y                        # (n,)
    return 2 / len(y) * X.T @ residual, 2 / len(y) * residual.sum()


# %% [markdown]
# **Check 1** — at a random point, your gradient equals what minigrad's autograd computes for
# `F.mse_loss(net(X), y)`.

# %%
check_rng = np.random.default_rng(1)
w0, b0 = check_rng.standard_normal(2), check_rng.standard_normal()
probe_net = nn.Linear(2, 1, dtype=np.float64)
probe_net.weight.data[...] = w0
probe_net.bias.data[...] = b0
F.mse_loss(probe_net(X), y).backward()
gw, gb = mse_gradient(w0, b0, features, labels.ravel())
np.testing.assert_allclose(gw, probe_net.weight.grad.numpy().ravel(), rtol=1e-10)
np.testing.assert_allclose(gb, probe_net.bias.grad.numpy()[0], rtol=1e-10)
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — how large can the step be?** Full-batch gradient descent on a quadratic,
# $\theta \leftarrow \theta - \text{lr}\, (H\theta - g)$, converges exactly when
# $\text{lr} < 2 / \lambda_{\max}(H)$, where $H$ is the Hessian of the loss. For this regression
# $\theta = (w, b)$ and $H = \frac2n A^\top A$ with $A = [X\ \mathbf 1]$. Compute `lr_max`
# for the data above.

# %%
design = np.hstack([features, np.ones((num_examples, 1))])
lr_max = 2 / np.linalg.eigvalsh(2 / num_examples * design.T @ design).max()
print(f"lr_max = {lr_max:.4f}")


# %% [markdown]
# **Check 2** — full-batch descent in minigrad with 0.9·`lr_max` converges to the least-squares
# fit, and with 1.1·`lr_max` it blows up.

# %%
def full_batch_descent(lr, steps=300):
    mg.manual_seed(0)
    gd_net = nn.Linear(2, 1, dtype=np.float64)
    for _ in range(steps):
        loss = F.mse_loss(gd_net(X), y)
        gd_net.zero_grad()
        loss.backward()
        for p in gd_net.parameters():
            p.data -= lr * p.grad.data
    return np.r_[gd_net.weight.numpy().ravel(), gd_net.bias.numpy()]

np.testing.assert_allclose(full_batch_descent(0.9 * lr_max), least_squares, atol=1e-6)
assert np.abs(full_batch_descent(1.1 * lr_max)).max() > 1e3
print("exercise 2: OK")

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 01 · Autograd: reverse-mode differentiation, once and twice
#
# Training a network means computing the gradient of one scalar (the loss) with respect to
# millions of numbers (the parameters). Reverse-mode automatic differentiation does it at the cost
# of about one extra forward pass: record the computation as a graph, then walk the graph backwards
# applying the chain rule at each node. This lesson
#
# 1. differentiates a small graph by hand and compares with minigrad and PyTorch,
# 2. shows how a `Function` is written — `forward` on raw arrays, `backward` written **once** — and
#    checks a custom one with `mg.gradcheck`,
# 3. shows why gradients *accumulate*,
# 4. differentiates the backward pass itself (`create_graph=True`) to get exact Hessians, Newton's
#    method and higher derivatives, checked against closed forms and PyTorch.

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
from minigrad import Function, Tensor
from minigrad.functions.elementwise import Tanh

# %% [markdown]
# ## 1 · A graph by hand
#
# Take $f(x, y) = \tanh(x y + y^2)$ and name every intermediate value:
# $$a = x y,\qquad b = y^2,\qquad c = a + b,\qquad f = \tanh c .$$
# The backward pass computes the *adjoint* $\bar v = \partial f / \partial v$ of every node, from the
# output back to the inputs, with one local derivative per edge:
# $$\bar f = 1,\quad \bar c = \bar f\,(1 - f^2),\quad \bar a = \bar c,\quad \bar b = \bar c,$$
# $$\bar x = \bar a\, y,\qquad \bar y = \underbrace{\bar a\, x}_{\text{through } a} + \underbrace{\bar b\, 2y}_{\text{through } b}.$$
# $y$ feeds two nodes, so its adjoint is the **sum** over both paths — the multivariate chain rule.
# That sum is the whole reason the engine must wait until *every* consumer of a node has sent its
# gradient before going further back.

# %%
x0, y0 = 0.5, -1.3

# forward, keeping every intermediate value
a = x0 * y0
b = y0 ** 2
c = a + b
f = np.tanh(c)

# backward: one line per edge, from the output to the inputs
f_bar = 1.0
c_bar = f_bar * (1 - f ** 2)
a_bar, b_bar = c_bar, c_bar
x_bar = a_bar * y0
y_bar = a_bar * x0 + b_bar * 2 * y0
print(f"f = {f:.6f}   df/dx = {x_bar:.6f}   df/dy = {y_bar:.6f}")

# %% [markdown]
# The same function in minigrad. Each operation on tensors that require gradients records a
# `Function` node holding its inputs; its *generation* is one more than the largest generation
# among its inputs' creators, so a node always comes after everything it depends on. Printing the
# graph from the output shows the structure we drew by hand — with `y` appearing twice.

# %%
x = mg.tensor(x0, dtype=np.float64, requires_grad=True)
y = mg.tensor(y0, dtype=np.float64, requires_grad=True)
f_mg = mg.tanh(x * y + y ** 2)

leaf_names = {id(x): "x", id(y): "y"}

def print_graph(t, indent=""):
    fn = t.creator
    if fn is None:
        print(f"{indent}{leaf_names.get(id(t), 'constant')} = {t.item():.4f}")
        return
    print(f"{indent}{type(fn).__name__} (generation {fn.generation}) -> {t.item():.4f}")
    for child in fn.inputs:
        print_graph(child, indent + "    ")

print_graph(f_mg)
f_mg.backward()
print("minigrad:", x.grad, y.grad)

# %%
x_t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
y_t = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
f_t = torch.tanh(x_t * y_t + y_t ** 2)
f_t.backward()
print("torch:   ", x_t.grad, y_t.grad)

# %% [markdown]
# **CHECK** — the value and both partial derivatives agree between the hand computation, the closed
# form $\partial_x f = (1-f^2)\,y$, $\partial_y f = (1-f^2)(x+2y)$, minigrad and PyTorch, to 1e-12.

# %%
closed_x = (1 - np.tanh(x0 * y0 + y0 ** 2) ** 2) * y0
closed_y = (1 - np.tanh(x0 * y0 + y0 ** 2) ** 2) * (x0 + 2 * y0)
for name, hand, closed, ours, theirs in [("df/dx", x_bar, closed_x, x.grad.item(), x_t.grad.item()),
                                         ("df/dy", y_bar, closed_y, y.grad.item(), y_t.grad.item())]:
    np.testing.assert_allclose([hand, ours, theirs], closed, rtol=1e-12, err_msg=name)
np.testing.assert_allclose(f_mg.item(), f_t.item(), rtol=1e-12)
assert x.grad.dtype == np.float64 and y.grad.dtype == np.float64
print("graph by hand == minigrad == torch: OK")

# %% [markdown]
# ### How `backward` walks the graph
#
# `_run` in `minigrad/autograd/engine.py` is the whole backward pass, in about fifty lines:
#
# 1. put the output's creator on a heap keyed by generation, with gradient 1;
# 2. pop the node of highest generation — every node that consumes its output has a higher
#    generation, so all their contributions have already arrived and been **summed**;
# 3. call its `backward` with that summed gradient; send each returned gradient to the creator of
#    the matching input (added to what is already pending there), or, for a leaf, add it to `.grad`;
# 4. free the node's saved inputs (unless `retain_graph=True`) and repeat until the heap is empty.
#
# The heap gives a valid topological order without ever sorting the whole graph (the design of
# DeZero — Saitoh, *Deep Learning from Scratch 3*, step 15).

# %% [markdown]
# ## 2 · `Function`: forward on arrays, backward written once
#
# Every op is a small class. `forward` receives the **raw arrays** (`numpy` or `cupy`) and returns
# one; it never sees a Tensor, so it runs at NumPy speed and records nothing. `backward(gy, *inputs)`
# receives the gradient of the output and returns one gradient per input. Here is `tanh`, with
# $\tanh'(x) = 1 - \tanh^2 x$ (`output_like(gy)` hands back the forward result in the same kind as
# `gy`):

# %%
print(inspect.getsource(Tanh))


# %% [markdown]
# The key decision (DeZero's, steps 33–36): `backward` is written with ordinary operators (`*`,
# `-`, `@`) and minigrad functions, so the **same code** runs on two kinds of values.
#
# * plain `backward()` calls it with **raw arrays**: just NumPy arithmetic, no graph;
# * `backward(create_graph=True)` or `mg.autograd.grad(..., create_graph=True)` calls it with
#   **Tensors**: the backward pass is recorded as a graph of its own and can be differentiated
#   again. Nothing else is needed for Hessians or Newton's method.
#
# To write a new op, subclass `Function`. Below: $\text{cube}(x) = x^3$, with
# $\frac{d}{dx} x^3 = 3x^2$. A subclass records what kind of values its `backward` was given.

# %%
class Cube(Function):
    """cube(x) = x³, with d/dx x³ = 3x²."""

    def forward(self, x):
        return x ** 3

    def backward(self, gy, x):
        return gy * 3 * x ** 2


def cube(x):
    return Cube()(x)


class TracingCube(Cube):
    seen = []

    def backward(self, gy, x):
        TracingCube.seen.append(type(x).__name__)
        return super().backward(gy, x)


x = mg.tensor(np.array([-1.5, 0.3, 2.0]), requires_grad=True)

TracingCube()(x).sum().backward()                 # plain backward: arrays
(g1,) = mg.autograd.grad(TracingCube()(x).sum(), [x], create_graph=True)   # recorded: Tensors
print("backward was called with:", TracingCube.seen)
print("first derivative 3x² =", g1, "— its creator:", g1.creator)
(g2,) = mg.autograd.grad(g1.sum(), [x], create_graph=True)
(g3,) = mg.autograd.grad(g2.sum(), [x])
print("second derivative 6x =", g2, "  third =", g3)

# %% [markdown]
# **CHECK** — the plain pass saw a NumPy array and the recorded pass a Tensor; $3x^2$, $6x$ and $6$
# agree with the closed forms and with PyTorch differentiating `x**3` three times, to 1e-12.

# %%
assert TracingCube.seen == ["ndarray", "Tensor"]
assert x.grad.creator is None and g1.creator is not None   # only create_graph records the backward

x_np = x.numpy()
x_t = torch.tensor(x_np, requires_grad=True)
t1, = torch.autograd.grad((x_t ** 3).sum(), x_t, create_graph=True)
t2, = torch.autograd.grad(t1.sum(), x_t, create_graph=True)
t3, = torch.autograd.grad(t2.sum(), x_t)
for ours, closed, theirs in [(g1, 3 * x_np ** 2, t1), (g2, 6 * x_np, t2), (g3, np.full(3, 6.0), t3)]:
    np.testing.assert_allclose(ours.numpy(), closed, rtol=1e-12)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
np.testing.assert_allclose(x.grad.numpy(), 3 * x_np ** 2, rtol=1e-12)
print("Cube: arrays vs Tensors, closed forms and torch: OK")


# %% [markdown]
# ### Checking a backward with finite differences
#
# A hand-written `backward` is the easiest place to make a mistake. `mg.gradcheck(fn, inputs)`
# compares every entry of the Jacobian that `backward` produces with the central difference
# $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon},$$
# whose error is $O(\varepsilon^2)$ — hence float64 inputs. A checker is only useful if it can fail:
# a `Cube` whose backward forgot the factor 3 must be caught.

# %%
class BrokenCube(Function):
    def forward(self, x):
        return x ** 3

    def backward(self, gy, x):
        return gy * x ** 2        # wrong: the factor 3 is missing


x = mg.tensor(np.array([-1.5, 0.3, 2.0]), requires_grad=True)
print("Cube:", mg.gradcheck(cube, [x]))
try:
    mg.gradcheck(lambda v: BrokenCube()(v), [x])
    broken_error = None
except AssertionError as err:
    broken_error = str(err)
print("BrokenCube:", broken_error)

# %% [markdown]
# **CHECK** — gradcheck accepts the right backward and rejects the wrong one.

# %%
assert mg.gradcheck(cube, [x]) is True
assert broken_error is not None and "gradcheck" in broken_error
print("gradcheck: OK")

# %% [markdown]
# ## 3 · Gradients accumulate
#
# Two situations add gradients together:
#
# * **inside one backward pass**, a node used several times receives the sum of the gradients from
#   every use (section 1). With $h = 3x$ and $z = h \cdot h + h$,
#   $\frac{dz}{dh} = 2h + 1$ and $\frac{dz}{dx} = 3(2h + 1) = 18x + 3$;
# * **across backward passes**, `.grad` is *added to*, never overwritten — as in PyTorch. That is
#   what makes gradient accumulation over micro-batches a plain loop, and why a training loop calls
#   `zero_grad()` (or sets `.grad = None`) before each step.
#
# A graph's saved inputs are freed by `backward`; calling it twice on the same graph needs
# `retain_graph=True` the first time, and otherwise fails with a message that says so.

# %%
x = mg.tensor(np.array([1.0, -2.0]), requires_grad=True)
h = x * 3
z = (h * h + h).sum()
z.backward(retain_graph=True)
one_pass = x.grad.numpy().copy()
z.backward()                              # same graph again: adds to x.grad
two_passes = x.grad.numpy().copy()
print("after one backward:", one_pass, "  after two:", two_passes)

try:
    z.backward()                          # the graph was freed by the last call
    freed_error = None
except RuntimeError as err:
    freed_error = str(err)
print("third backward:", freed_error)

x.grad = None                             # what zero_grad(set_to_none=True) does
(x * 3).sum().backward()
print("after reset and a new graph:", x.grad)

# %% [markdown]
# **CHECK** — the reused node sums both paths ($18x + 3$), a second backward doubles `.grad`, a
# freed graph raises an error that names `retain_graph`, and PyTorch agrees on the first two.

# %%
x_np = np.array([1.0, -2.0])
np.testing.assert_allclose(one_pass, 18 * x_np + 3, rtol=1e-12)
np.testing.assert_allclose(two_passes, 2 * (18 * x_np + 3), rtol=1e-12)
assert freed_error is not None and "retain_graph" in freed_error
np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0], rtol=1e-12)

x_t = torch.tensor(x_np, requires_grad=True)
h_t = x_t * 3
z_t = (h_t * h_t + h_t).sum()
z_t.backward(retain_graph=True)
np.testing.assert_allclose(one_pass, x_t.grad.numpy(), rtol=1e-12)
z_t.backward()
np.testing.assert_allclose(two_passes, x_t.grad.numpy(), rtol=1e-12)
print("accumulation: OK")

# %% [markdown]
# ## 4 · Double backward: the Hessian of logistic regression
#
# For data $X \in \mathbb R^{n \times d}$, labels $y \in \{0, 1\}^n$ and weights $w$, the logistic
# regression loss (mean negative log-likelihood) with logits $z = Xw$ and $p = \sigma(z)$ is
# $$L(w) = \frac1n \sum_{i=1}^n \Big(\log\big(1 + e^{z_i}\big) - y_i z_i\Big),\qquad
# \nabla L = \frac1n X^\top (p - y),\qquad
# H = \nabla^2 L = \frac1n X^\top \operatorname{diag}\big(p(1-p)\big)\, X .$$
#
# With autograd: compute $g = \nabla L$ with `create_graph=True`, so that $g$ is itself a Tensor
# with a graph back to $w$; then row $i$ of the Hessian is the gradient of the scalar $g_i$
# (Pearlmutter 1994: a Hessian-vector product with the unit vector $e_i$). `mg.autograd.functional.hessian`
# does exactly this loop.

# %%
rng = np.random.default_rng(0)
n, d = 200, 3
features = rng.standard_normal((n, d))
w_true = np.array([1.0, -2.0, 0.5])
labels = (rng.random(n) < 1 / (1 + np.exp(-features @ w_true))).astype(np.float64)
X, y = mg.tensor(features), mg.tensor(labels)


def loss_fn(w):
    z = X @ w
    return (mg.log(1 + mg.exp(z)) - y * z).mean()


w0 = 0.3 * rng.standard_normal(d)
w = mg.tensor(w0, requires_grad=True)
(g,) = mg.autograd.grad(loss_fn(w), [w], create_graph=True)
H_rows = np.stack([mg.autograd.grad(g[i], [w], retain_graph=True)[0].numpy() for i in range(d)])
H_mg = mg.autograd.functional.hessian(loss_fn, mg.tensor(w0)).numpy()
print(H_rows)

# %%
X_t, y_t = torch.from_numpy(features), torch.from_numpy(labels)


def torch_loss(w):
    z = X_t @ w
    return (torch.log(1 + torch.exp(z)) - y_t * z).mean()


H_torch = torch.autograd.functional.hessian(torch_loss, torch.from_numpy(w0)).numpy()

p = 1 / (1 + np.exp(-features @ w0))
g_closed = features.T @ (p - labels) / n
H_closed = features.T @ np.diag(p * (1 - p)) @ features / n

# %% [markdown]
# **CHECK** — the gradient equals $X^\top(p - y)/n$ and the Hessian (by rows, and from
# `mg.autograd.functional.hessian`) equals both the closed form and `torch.autograd.functional.hessian`, to
# 1e-10; it is symmetric.

# %%
np.testing.assert_allclose(g.numpy(), g_closed, rtol=1e-10, atol=1e-14)
for H in (H_rows, H_mg):
    np.testing.assert_allclose(H, H_closed, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(H, H_torch, rtol=1e-10, atol=1e-14)
np.testing.assert_allclose(H_mg, H_mg.T, rtol=1e-12, atol=1e-15)
print("Hessian vs closed form and torch: OK")

# %% [markdown]
# ### What an exact Hessian buys: Newton's method
#
# Newton's method minimises the local quadratic model: solve $H\,\Delta = \nabla L$ and set
# $w \leftarrow w - \Delta$. Near the minimum of a smooth, strictly convex loss the error is
# squared at every step (quadratic convergence): the number of correct digits doubles. The loop
# below starts from $w = 0$; `minigrad.optim.Newton` packages the same step for any model (see the
# optimisation lesson).

# %%
w = mg.tensor(np.zeros(d), requires_grad=True)
grad_norms = []
for step in range(8):
    (g,) = mg.autograd.grad(loss_fn(w), [w], create_graph=True)
    H = np.stack([mg.autograd.grad(g[i], [w], retain_graph=True)[0].numpy() for i in range(d)])
    grad_norms.append(np.linalg.norm(g.numpy()))
    w = mg.tensor(w.numpy() - np.linalg.solve(H, g.numpy()), requires_grad=True)
w_newton = w.numpy()
print("‖∇L‖ per step:", " ".join(f"{v:.1e}" for v in grad_norms))

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(grad_norms, "o-")
ax.set_xlabel("Newton step")
ax.set_ylabel("‖∇L(w)‖")
ax.set_title("Quadratic convergence of Newton's method")
plt.show()

# %% [markdown]
# **CHECK** — at Newton's final $w$ the closed-form gradient $X^\top(\sigma(Xw) - y)/n$ (NumPy,
# independent of minigrad) vanishes to 1e-12, and from step 3 on each gradient norm is at most a
# constant times the square of the previous one.

# %%
p_final = 1 / (1 + np.exp(-features @ w_newton))
assert np.linalg.norm(features.T @ (p_final - labels) / n) < 1e-12
norms = np.array(grad_norms)
converging = norms[3:6]
assert np.all(converging[1:] <= 50 * converging[:-1] ** 2), norms
print("Newton: OK, w =", w_newton)

# %% [markdown]
# ## 5 · Higher derivatives: $\tanh$ three times
#
# Because each derivative is again a Tensor with a graph, `mg.autograd.grad(..., create_graph=True)`
# can be applied again and again. For an element-wise function, the gradient of
# $\sum_j g(x_j)$ with respect to $x_i$ is $g'(x_i)$, so one call differentiates a whole grid of
# points at once. The closed forms, with $t = \tanh x$:
# $$\tanh' = 1 - t^2,\qquad \tanh'' = -2t\,(1 - t^2),\qquad \tanh''' = -2\,(1 - t^2)(1 - 3t^2).$$

# %%
grid = np.linspace(-3, 3, 201)
x = mg.tensor(grid, requires_grad=True)
derivatives = [mg.tanh(x)]
for order in range(3):
    (d_next,) = mg.autograd.grad(derivatives[-1].sum(), [x], create_graph=True)
    derivatives.append(d_next)

t = np.tanh(grid)
closed_forms = [t, 1 - t ** 2, -2 * t * (1 - t ** 2), -2 * (1 - t ** 2) * (1 - 3 * t ** 2)]

fig, ax = plt.subplots(figsize=(7, 4))
labels_plot = ["tanh", "tanh′", "tanh″", "tanh‴"]
for label, ours, closed in zip(labels_plot, derivatives, closed_forms):
    line, = ax.plot(grid, ours.numpy(), label=f"{label} (minigrad)")
    ax.plot(grid[::10], closed[::10], "o", color=line.get_color(), ms=4)
ax.set_xlabel("x")
ax.set_title("tanh and its derivatives: lines = minigrad, dots = closed form")
ax.legend()
plt.show()

# %% [markdown]
# **CHECK** — every derivative matches its closed form on all 201 points to 1e-12, and PyTorch's
# third derivative agrees.

# %%
for label, ours, closed in zip(labels_plot, derivatives, closed_forms):
    np.testing.assert_allclose(ours.numpy(), closed, rtol=1e-12, atol=1e-14, err_msg=label)

x_t = torch.tensor(grid, requires_grad=True)
d_t = torch.tanh(x_t)
for order in range(3):
    (d_t,) = torch.autograd.grad(d_t.sum(), x_t, create_graph=True)
np.testing.assert_allclose(derivatives[3].numpy(), d_t.detach().numpy(), rtol=1e-12, atol=1e-14)
print("tanh derivatives vs closed forms and torch: OK")

# %% [markdown]
# ## Summary
#
# * Reverse mode = record a graph, then one chain-rule step per edge from the output back, summing
#   over paths; the heap over generations gives the order.
# * A `Function` is `forward` on raw arrays plus a `backward` written once with differentiable ops:
#   arrays give a fast plain backward, Tensors give a differentiable one.
# * `.grad` accumulates; `zero_grad()` / `.grad = None` resets it.
# * `create_graph=True` turns gradients into functions of the inputs: exact Hessians, Newton's method
#   and derivatives of any order.

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it; the check compares with an independent reference and
# fails on a wrong answer.
#
# **Exercise 1 — write an op.** Implement `Softplus`, $\operatorname{softplus}(x) = \log(1 + e^x)$,
# as a `Function`. Its derivative is the logistic sigmoid, $\sigma(x) = 1 / (1 + e^{-x})$. Write
# `backward` with minigrad operations only (e.g. `mg.sigmoid`, `mg.exp`, `*`, `/`), so that it also
# works on Tensors and can be differentiated again.

# %%
class Softplus(Function):
    """softplus(x) = log(1 + eˣ), with d/dx softplus(x) = σ(x)."""

    def forward(self, x):
        xp = mg.backend.get_array_module(x)
        return xp.logaddexp(0.0, x)

    def backward(self, gy, x):
        return gy * mg.sigmoid(x)


def softplus(x):
    return Softplus()(x)


# %% [markdown]
# **Check 1** — `gradcheck` accepts your backward, and the first and second derivatives equal
# PyTorch's `softplus` differentiated twice.

# %%
x = mg.tensor(np.array([-4.0, -0.5, 0.0, 1.5, 6.0]), requires_grad=True)
assert mg.gradcheck(softplus, [x]) is True
(s1,) = mg.autograd.grad(softplus(x).sum(), [x], create_graph=True)
(s2,) = mg.autograd.grad(s1.sum(), [x])

x_t = torch.tensor(x.numpy(), requires_grad=True)
(t1,) = torch.autograd.grad(torch.nn.functional.softplus(x_t).sum(), x_t, create_graph=True)
(t2,) = torch.autograd.grad(t1.sum(), x_t)
np.testing.assert_allclose(softplus(x).numpy(), torch.nn.functional.softplus(x_t).detach().numpy(), rtol=1e-12)
np.testing.assert_allclose(s1.numpy(), t1.detach().numpy(), rtol=1e-12)
np.testing.assert_allclose(s2.numpy(), t2.numpy(), rtol=1e-12)
print("exercise 1: OK")


# %% [markdown]
# **Exercise 2 — a Hessian-vector product without the Hessian.** Newton-type methods on large
# models never form $H$ (it has $d^2$ entries); they use products $Hv$. Since
# $Hv = \nabla_w \big(\nabla L(w)^\top v\big)$ (Pearlmutter 1994), one extra backward through
# the gradient gives it. Write `hvp(loss_fn, w0, v)` returning $H(w_0)\,v$ as a NumPy array, with
# two calls to `mg.autograd.grad` and no loop over coordinates.

# %%
def hvp(loss_fn, w0, v):
    w = mg.tensor(w0, requires_grad=True)
    (g,) = mg.autograd.grad(loss_fn(w), [w], create_graph=True)
    (Hv,) = mg.autograd.grad((g * mg.tensor(v)).sum(), [w])
    return Hv.numpy()


# %% [markdown]
# **Check 2** — for the logistic regression of section 4, your product equals the closed-form
# Hessian $\frac1n X^\top \operatorname{diag}(p(1-p)) X$ times $v$, for two different vectors.

# %%
for v in (np.array([1.0, 0.0, 0.0]), rng.standard_normal(d)):
    np.testing.assert_allclose(hvp(loss_fn, w0, v), H_closed @ v, rtol=1e-10, atol=1e-14)
print("exercise 2: OK")

"""DARTS (Liu, Simonyan & Yang, *DARTS: Differentiable architecture search*, ICLR 2019),
first and second order, as App. A.3 of the metric-splitting paper runs it on NAS-Bench-201:
alternate an Adam step on the alphas (architecture batch) and an SGD step on the weights
(weight batch); op weights softmax(α) over the leaf's ops.

Second order: the alphas follow the gradient of the validation loss after one virtual SGD
step of the weights, w' = w − ξ(μ·m + ∇_w L_train(w, α) + λw) (ξ the current weight learning
rate, m the momentum buffer, λ the weight decay):

    ∇_α L_val(w', α) − ξ · ∇²_{α,w} L_train(w, α) · ∇_{w'} L_val(w', α),

the mixed second derivative times a vector by central finite differences, per leaf:
(∇_α L_train(w⁺, α) − ∇_α L_train(w⁻, α)) / 2ε, w± = w ± ε·v, ε = 0.01/‖v‖ (‖v‖ over the
leaf's weights). The two gradients of that difference run in float32 even where the step runs
under bf16 autocast (CUDA): in bf16 the difference quotient is mostly rounding error
(measured ≈ 90 % off a float64 computation, float32 ≈ 1 %).
"""

from __future__ import annotations

import torch

from fewshotnas.search.engine import Searcher, leaf_losses
from fewshotnas.train.device import autocast


class Darts1st(Searcher):
    """First-order DARTS: the engine's defaults (:class:`~fewshotnas.search.engine.Searcher`)."""

    name = "darts1"


class Darts2nd(Darts1st):
    """Second-order DARTS: the unrolled architecture gradient (module docstring)."""

    name = "darts2"
    fd_scale: float = 0.01
    """ε = fd_scale / ‖v‖ for the finite-difference Hessian-vector product (DARTS: 0.01)."""

    def arch_step(self, x_a, y_a, x_w, y_w) -> None:
        self.alphas.grad = self.hypergradient(x_a, y_a, x_w, y_w)
        self.a_opt.step()

    def hypergradient(self, x_a: torch.Tensor, y_a: torch.Tensor, x_w: torch.Tensor, y_w: torch.Tensor
                      ) -> torch.Tensor:
        """(K, 6, 5) unrolled gradient of each leaf's validation loss w.r.t. its alphas. The
        weights and BatchNorm statistics come back unchanged."""
        flat = self.flat.flat
        saved = flat.detach().clone()
        buffers = [b.detach().clone() for b in self.net.buffers()]
        xi = self.w_sched.get_last_lr()[0]
        with autocast(self.device):
            loss = leaf_losses(self.forward(x_w, self.training_weights().detach()), y_w).sum()
        grad = self.flat.set_grads(torch.autograd.grad(loss, self.params, allow_unused=True))
        with torch.no_grad():  # virtual step w' = w − ξ(μ·m + g + λw)
            step = grad + self.cfg.weight_decay * flat
            buf = self.w_opt.state.get(flat, {}).get("momentum_buffer")
            if buf is not None:
                step.add_(buf, alpha=self.cfg.momentum)
            flat.sub_(xi * step)
        with autocast(self.device):
            val_loss = leaf_losses(self.forward(x_a, self.training_weights()), y_a).sum()
        val_grads = torch.autograd.grad(val_loss, [self.alphas, *self.params], allow_unused=True)
        d_alpha = val_grads[0]
        v = self.flat.set_grads(val_grads[1:]).clone()
        hvp = self.mixed_hvp(x_w, y_w, saved, v)
        with torch.no_grad():
            for b, kept in zip(self.net.buffers(), buffers):
                b.copy_(kept)
        return d_alpha - xi * hvp

    def mixed_hvp(self, x: torch.Tensor, y: torch.Tensor, at: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """(K, 6, 5) ∇²_{α,w} L(w, α) · v of each leaf at the flat weights ``at`` ((N,), like
        ``flat.flat``), by central differences with ε = fd_scale / ‖v_k‖ per leaf, in float32
        whatever autocast the caller runs under. The weights are left at ``at``; BatchNorm
        statistics are not restored here."""
        flat = self.flat.flat
        with torch.autocast(self.device.type, enabled=False):  # ε too: a bf16 norm moves the step
            eps = self.fd_scale / self.flat.leaf_sums(v.square()).sqrt().clamp_min(1e-12)
            shift = self.flat.per_element(eps.to(v.dtype)) * v
            with torch.no_grad():
                flat.copy_(at + shift)
            grad_plus = self.alpha_grad(x, y, full_precision=True)
            with torch.no_grad():
                flat.copy_(at - shift)
            grad_minus = self.alpha_grad(x, y, full_precision=True)
            with torch.no_grad():
                flat.copy_(at)
        return (grad_plus - grad_minus) / (2 * eps[:, None, None])

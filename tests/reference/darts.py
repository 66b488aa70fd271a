"""DARTS (Liu et al. 2019), first and second order: alternate an Adam step on the
alphas (validation batch) and an SGD step on the weights (training batch).

Second order: the alphas follow the gradient of the validation loss after one
virtual SGD step of the weights, w' = w − ξ(μ·m + ∇_w L_train(w, α) + λw)
(ξ the current weight learning rate, m the momentum buffer, λ the weight decay):

    ∇_α L_val(w', α) − ξ · ∇²_{α,w} L_train(w, α) · ∇_{w'} L_val(w', α),

the mixed second derivative times a vector by central finite differences:
(∇_α L_train(w⁺, α) − ∇_α L_train(w⁻, α)) / 2ε, w± = w ± ε·v, ε = 0.01/‖v‖.
The two gradients of that difference run in float32 even where the step runs
under bf16 autocast (CUDA): in bf16 the difference quotient is mostly rounding
error (measured ≈ 90 % off a float64 computation, float32 ≈ 1 %).
The result is written into the alphas' gradient before the Adam step.
"""

from __future__ import annotations

import torch
from torch import nn

from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import autocast
from reference.common import (
    SearchConfig,
    cross_entropy,
    masked_logits,
    new_alphas,
    weight_optimizer,
)


class SearchState:
    """The resumable state every search shares: network (``net``), ``alphas``, the weights'
    optimiser and schedule (``w_opt``, ``w_sched``) and the alphas' optimiser (``a_opt``)."""

    net: torch.nn.Module
    alphas: torch.Tensor
    w_opt: torch.optim.Optimizer
    w_sched: torch.optim.lr_scheduler.LRScheduler
    a_opt: torch.optim.Optimizer

    def state_dict(self) -> dict:
        return dict(net=self.net.state_dict(), alphas=self.alphas.detach().clone(), w_opt=self.w_opt.state_dict(),
                    w_sched=self.w_sched.state_dict(), a_opt=self.a_opt.state_dict())

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        with torch.no_grad():
            self.alphas.copy_(state["alphas"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.w_sched.load_state_dict(state["w_sched"])
        self.a_opt.load_state_dict(state["a_opt"])


class Darts1st(SearchState):
    """First-order DARTS on the sub-space ``mask``; op weights = softmax of masked alphas.

    Also the base of the other algorithms: alphas, both optimisers, the weight step and the
    resumable state live here."""

    samples_architectures = False

    def __init__(self, net: Network, mask: OpMask, cfg: SearchConfig, device: torch.device) -> None:
        self.net, self.mask, self.cfg, self.device = net, mask, cfg, device
        self.mask_tensor = mask.to_tensor(device)
        self.alphas = new_alphas(device)
        self.w_opt, self.w_sched = weight_optimizer(net, cfg)
        self.a_opt = torch.optim.Adam([self.alphas], lr=cfg.arch_lr, betas=cfg.arch_betas,
                                      weight_decay=cfg.arch_weight_decay)

    def probabilities(self) -> torch.Tensor:
        """(6, 5) softmax of the masked alphas (0 outside the mask)."""
        return torch.softmax(masked_logits(self.alphas, self.mask_tensor), dim=-1)

    def arch_weights(self) -> torch.Tensor:
        return self.probabilities()

    def derive_mask(self) -> OpMask:
        return self.mask

    def eval_mask(self) -> OpMask:
        return self.mask

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        pass

    def end_epoch(self) -> float:
        lr = self.w_sched.get_last_lr()[0]
        self.w_sched.step()
        return lr

    def relaxed_weights(self) -> torch.Tensor:
        """(6, 5) op weights of a training forward pass, differentiable w.r.t. the alphas
        (DARTS: the softmax; SNAS overrides it with a Gumbel-softmax sample)."""
        return self.probabilities()

    def alpha_grad(self, x: torch.Tensor, y: torch.Tensor, full_precision: bool = False) -> torch.Tensor:
        """(6, 5) gradient of the cross-entropy on (x, y) w.r.t. the alphas only: the
        weight-gradient kernels are skipped. ``full_precision``: autocast off (the weights' dtype)."""
        precision = torch.autocast(self.device.type, enabled=False) if full_precision else autocast(self.device)
        with precision:
            loss = cross_entropy(self.net(x, self.relaxed_weights(), self.mask), y)
        return torch.autograd.grad(loss, [self.alphas])[0]

    def arch_step(self, x_a: torch.Tensor, y_a: torch.Tensor, x_w: torch.Tensor, y_w: torch.Tensor) -> None:
        self.alphas.grad = self.alpha_grad(x_a, y_a)
        self.a_opt.step()

    def weight_step(self, x_w: torch.Tensor, y_w: torch.Tensor, weights: torch.Tensor | None = None,
                    run_mask: OpMask | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(self.device):
            if weights is None:
                weights = self.relaxed_weights().detach()
            logits = self.net(x_w, weights, self.mask if run_mask is None else run_mask)
            loss = cross_entropy(logits, y_w)
        self.w_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip, foreach=True)
        self.w_opt.step()
        return loss.detach(), logits.detach()

    def step(self, x_w, y_w, x_a, y_a):
        self.arch_step(x_a, y_a, x_w, y_w)
        return self.weight_step(x_w, y_w)


class Darts2nd(Darts1st):
    """Second-order DARTS: the unrolled architecture gradient (see the module docstring)."""

    fd_scale: float = 0.01
    """ε = fd_scale / ‖v‖ for the finite-difference Hessian-vector product (DARTS: 0.01)."""

    def hypergradient(self, x_a: torch.Tensor, y_a: torch.Tensor, x_w: torch.Tensor, y_w: torch.Tensor
                      ) -> torch.Tensor:
        """(6, 5) unrolled gradient of the validation loss w.r.t. the alphas. The weights and
        BN statistics come back unchanged."""
        params = [p for p in self.net.parameters() if p.requires_grad]
        buffers = [b.detach().clone() for b in self.net.buffers()]
        saved = [p.detach().clone() for p in params]
        xi = self.w_sched.get_last_lr()[0]
        momentum, decay = self.cfg.momentum, self.cfg.weight_decay
        with autocast(self.device):
            loss = cross_entropy(self.net(x_w, self.relaxed_weights().detach(), self.mask), y_w)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        with torch.no_grad():  # virtual step w' = w − ξ(μ·m + g + λw)
            for p, g in zip(params, grads):
                if g is None:
                    continue
                buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
                step = g + decay * p
                if buf is not None:
                    step = step + momentum * buf
                p.sub_(xi * step)
        with autocast(self.device):
            val_loss = cross_entropy(self.net(x_a, self.relaxed_weights(), self.mask), y_a)
        val_grads = torch.autograd.grad(val_loss, [self.alphas, *params], allow_unused=True)
        d_alpha = val_grads[0]
        v = [torch.zeros_like(p) if g is None else g for p, g in zip(params, val_grads[1:])]
        hvp = self.mixed_hvp(x_w, y_w, params, saved, v)
        with torch.no_grad():
            for b, kept in zip(self.net.buffers(), buffers):
                b.copy_(kept)
        return d_alpha - xi * hvp

    def mixed_hvp(self, x: torch.Tensor, y: torch.Tensor, params: list[torch.Tensor], at: list[torch.Tensor],
                  v: list[torch.Tensor]) -> torch.Tensor:
        """(6, 5) ∇²_{α,w} L(w, α) · v at weights ``at`` (one tensor per ``params``) by central
        differences with ε = fd_scale / ‖v‖, in float32 whatever autocast the caller runs
        under. The parameters are left at ``at``; BN buffers are not restored here."""
        with torch.autocast(self.device.type, enabled=False):  # ε too: a bf16 norm moves the step
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in v]))
            eps = self.fd_scale / norm.clamp_min(1e-12)
            with torch.no_grad():  # w⁺ = w + εv
                for p, w, g in zip(params, at, v):
                    p.copy_(w + eps * g)
            grad_plus = self.alpha_grad(x, y, full_precision=True)
            with torch.no_grad():  # w⁻ = w − εv
                for p, w, g in zip(params, at, v):
                    p.copy_(w - eps * g)
            grad_minus = self.alpha_grad(x, y, full_precision=True)
            with torch.no_grad():
                for p, w in zip(params, at):
                    p.copy_(w)
        return (grad_plus - grad_minus) / (2 * eps)

    def arch_step(self, x_a, y_a, x_w, y_w) -> None:
        self.alphas.grad = self.hypergradient(x_a, y_a, x_w, y_w)
        self.a_opt.step()

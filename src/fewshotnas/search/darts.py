"""DARTS, first order (Liu et al. 2019): alternate an Adam step on the alphas
(validation batch) and an SGD step on the weights (training batch)."""

from __future__ import annotations

import torch
from torch import nn

from fewshotnas.search.common import (
    SearchConfig,
    cross_entropy,
    masked_logits,
    new_alphas,
    weight_optimizer,
)
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import autocast


class Darts1st:
    """First-order DARTS on the sub-space ``mask``; op weights = softmax of masked alphas."""

    def __init__(self, net: Network, mask: OpMask, cfg: SearchConfig, device: torch.device) -> None:
        self.net, self.mask, self.cfg, self.device = net, mask, cfg, device
        self.mask_tensor = mask.to_tensor(device)
        self.alphas = new_alphas(device)
        self.w_opt, self.w_sched = weight_optimizer(net, cfg)
        self.a_opt = torch.optim.Adam([self.alphas], lr=cfg.arch_lr, betas=cfg.arch_betas,
                                      weight_decay=cfg.arch_weight_decay)

    def arch_weights(self) -> torch.Tensor:
        return torch.softmax(masked_logits(self.alphas, self.mask_tensor), dim=-1)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        pass

    def end_epoch(self) -> float:
        lr = self.w_sched.get_last_lr()[0]
        self.w_sched.step()
        return lr

    def arch_step(self, x_a: torch.Tensor, y_a: torch.Tensor) -> None:
        with autocast(self.device):
            loss = cross_entropy(self.net(x_a, self.arch_weights(), self.mask), y_a)
        # only the alphas' gradient: the weight-gradient kernels are skipped
        (grad,) = torch.autograd.grad(loss, [self.alphas])
        self.alphas.grad = grad
        self.a_opt.step()

    def weight_step(self, x_w: torch.Tensor, y_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(self.device):
            logits = self.net(x_w, self.arch_weights().detach(), self.mask)
            loss = cross_entropy(logits, y_w)
        self.w_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip, foreach=True)
        self.w_opt.step()
        return loss.detach(), logits.detach()

    def step(self, x_w, y_w, x_a, y_a):
        self.arch_step(x_a, y_a)
        return self.weight_step(x_w, y_w)

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

"""Fused search: K leaves of one tree (or of several trees) searched as one program.

Every leaf keeps its own weights, BatchNorm statistics, alphas, mask, optimiser
state and gradient clipping, and sees the same batches in the same order as its
separate run (:func:`~fewshotnas.search.common.run_search` with the same seed),
so a fused run equals K separate runs up to float rounding: the leaves are only
stacked (:class:`~fewshotnas.space.fused.FusedNetwork`), never mixed. What is
shared is the work of launching kernels: one grouped convolution does the K
leaves' convolutions, one flat SGD update (:class:`FlatParameters`) their
weights.

Fused algorithms: DARTS 1st and 2nd order (per-leaf finite-difference ε), SNAS
(per-leaf Gumbel noise, from each leaf's own generator) and DSNAS. DSNAS samples
a different path per leaf: the fused step runs the union of the sampled ops with
one-hot weights per leaf, and restores afterwards the weights, momentum and
BatchNorm statistics of every op a leaf did not run, as its separate run leaves
them untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from fewshotnas.codehash import code_hash
from fewshotnas.data import PreparedData
from fewshotnas.files import EpochResume, config_hash, save_checkpoint
from fewshotnas.search.common import (
    SEARCH_FORMAT,
    SearchConfig,
    SearchStreams,
    batch_statistics,
    derive_genotype,
    disconnected_log,
    leaf_config_hash,
    masked_logits,
    search_config,
    search_log_frame,
    validation_noise,
)
from fewshotnas.search.darts import Darts1st, Darts2nd, SearchState
from fewshotnas.search.dsnas import Dsnas, fixed_edges_update, sample_ops
from fewshotnas.search.flat import FlatParameters, alias_into_flat
from fewshotnas.search.snas import NoiseStream, Snas, cosine_temperature, relaxed_sample
from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask, genotype_to_str
from fewshotnas.space.fused import OWNER_ALWAYS, FusedNetwork, op_owner, path_reach, path_useful
from fewshotnas.train.device import autocast, configure_torch, resolve_device
from fewshotnas.train.loop import check_finite, check_steps, new_network, progress

log = logging.getLogger("fewshotnas")

FUSABLE: dict[str, type] = {"darts1": Darts1st, "darts2": Darts2nd, "snas": Snas, "dsnas": Dsnas}
"""Algorithms with a fused implementation, by config name."""


def leaf_losses(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """(K,) per-leaf cross-entropy (mean or sum over the batch, in float32) of (K, B, J) logits."""
    k, b = logits.shape[:2]
    per_sample = F.cross_entropy(logits.float().flatten(0, 1), y.repeat(k), reduction="none").view(k, b)
    return per_sample.mean(1) if reduction == "mean" else per_sample.sum(1)


class FusedSearch(SearchState):
    """``leaves`` (freshly constructed single-leaf algorithms of one class, same config and
    device) searched as one program. Alphas are (K, 6, 5); :meth:`step` returns (K,) losses
    and (K, B, J) logits. Everything it updates is a tensor or a torch optimiser/schedule state,
    so it resumes exactly (:meth:`state_dict`)."""

    def __init__(self, leaves: list[Darts1st], cfg: SearchConfig, device: torch.device) -> None:
        kinds = {type(a) for a in leaves}
        if len(kinds) != 1 or next(iter(kinds)) not in FUSABLE.values():
            raise ValueError(f"cannot fuse {sorted(k.__name__ for k in kinds)}; fusable: "
                             f"{', '.join(c.__name__ for c in FUSABLE.values())}")
        self.kind: type = next(iter(kinds))
        self.cfg, self.device, self.leaves = cfg, device, len(leaves)
        self.masks = [a.mask for a in leaves]
        self.net = FusedNetwork.from_leaves([a.net for a in leaves])
        self.mask_tensor = self.net.mask_tensor
        self.alphas = torch.nn.Parameter(torch.stack([a.alphas.detach() for a in leaves]))
        self.params = [p for p in self.net.parameters()]
        self.flat = FlatParameters(self.params, self.leaves)
        self.w_opt = torch.optim.SGD([self.flat.flat], lr=cfg.lr, momentum=cfg.momentum,
                                     weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=cfg.epochs, eta_min=cfg.lr_min)
        self.a_opt = torch.optim.Adam([self.alphas], lr=cfg.arch_lr, betas=cfg.arch_betas,
                                      weight_decay=cfg.arch_weight_decay)
        self.snas, self.dsnas = self.kind is Snas, self.kind is Dsnas
        if self.snas or self.dsnas:
            self.noise = NoiseStream.joined([a.noise for a in leaves], device)
        if self.snas:
            self.tau_start, self.tau_end = cfg.temperature
            self.tau = torch.tensor(self.tau_start, device=device)
        if self.dsnas:
            self.threshold = cfg.fix_threshold
            self.fixed = torch.zeros(self.leaves, NUM_EDGES, dtype=torch.bool, device=device)
            self.fixed_op = torch.zeros(self.leaves, NUM_EDGES, dtype=torch.long, device=device)
            names = [n for n, _ in self.net.named_parameters()]
            self.param_owner = self._element_owners(names, self.params)
            stats = [(n, b) for n, b in self.net.named_buffers() if n.endswith(("running_mean", "running_var"))]
            self.stats = alias_into_flat([b for _, b in stats])
            self.stats_owner = self._element_owners([n for n, _ in stats], [b for _, b in stats])

    def _element_owners(self, names: list[str], tensors: list[torch.Tensor]) -> torch.Tensor:
        """(N,) index into a flattened (K, 31) activity table for every element of the flat
        tensor that aliases ``tensors`` (leaf-major blocks): leaf · 31 + owner id."""
        ids = []
        for name, t in zip(names, tensors):
            leaf = torch.arange(self.leaves, device=self.device).repeat_interleave(t.numel() // self.leaves)
            ids.append(leaf * (OWNER_ALWAYS + 1) + op_owner(name))
        return torch.cat(ids)

    # ----- architecture weights
    def probabilities(self) -> torch.Tensor:
        """(K, 6, 5) softmax of each leaf's masked alphas."""
        return torch.softmax(masked_logits(self.alphas, self.mask_tensor), dim=-1)

    def arch_weights(self) -> torch.Tensor:
        """(K, 6, 5) evaluation op weights: softmax(α) (DSNAS: one-hot of the best ops)."""
        if self.dsnas:
            return F.one_hot(self.best_ops(), NUM_OPS).to(self.alphas.dtype)
        return self.probabilities()

    def eval_forward(self):
        """The validation forward pass with the current alphas: x → (K, B, J) logits. DSNAS
        runs each leaf's best path only (edges its path does not reach contribute nothing)."""
        weights = self.arch_weights().detach()
        if not self.dsnas:
            return lambda x: self.net(x, weights)
        best = self.best_ops()
        run = ops_union(best.cpu())
        weights = weights * path_reach(best)[..., None].to(weights.dtype)
        return lambda x: self.net(x, weights, run)

    def validation_forward(self, noise: Iterator[torch.Tensor]):
        """The sampled validation pass (``validation: sampled``; SNAS and DSNAS): x → (K, B, J)
        logits, each leaf on one architecture drawn per batch with the (6, 5) draws of ``noise``
        (the same draw for every leaf, as each leaf's separate run draws it)."""

        def forward(x: torch.Tensor) -> torch.Tensor:
            g = next(noise).to(self.device).expand(self.leaves, NUM_EDGES, NUM_OPS)
            if self.snas:
                return self.net(x, relaxed_sample(masked_logits(self.alphas.detach(), self.mask_tensor), g, self.tau))
            ops = sample_ops(self.alphas.detach(), self.allowed(), g)
            weights = F.one_hot(ops, NUM_OPS).to(self.alphas.dtype) * path_reach(ops)[..., None].to(self.alphas.dtype)
            return self.net(x, weights, ops_union(ops.cpu()))

        return forward

    def derive_masks(self) -> list[OpMask]:
        """Per leaf, the mask its genotype is derived in (DSNAS: narrowed to its fixed edges)."""
        if not self.dsnas:
            return list(self.masks)
        return [OpMask.from_array(a) for a in self.allowed().cpu()]

    # ----- DSNAS
    def allowed(self) -> torch.Tensor:
        """(K, 6, 5) bool: each leaf's ops, narrowed to the fixed op on its fixed edges (DSNAS)."""
        fixed_rows = F.one_hot(self.fixed_op, NUM_OPS).bool()
        return torch.where(self.fixed[..., None], fixed_rows, self.mask_tensor)

    def best_ops(self) -> torch.Tensor:
        """(K, 6) argmax op per edge among the allowed ones (DSNAS)."""
        return masked_logits(self.alphas.detach(), self.allowed()).argmax(dim=-1)

    def dsnas_step(self, x_w, y_w, x_a, y_a) -> tuple[torch.Tensor, torch.Tensor]:
        """DSNAS's step for every leaf (see :mod:`fewshotnas.search.dsnas`): one path sampled per
        leaf, the union of the paths computed (one host sync: which ops to run), each leaf's ops
        weighted one-hot. Afterwards the weights and momentum of every (leaf, op) that gets no
        gradient in that leaf's separate run (off its path, or on it but leading nowhere), and
        the BN statistics of every op that run does not compute, are put back."""
        allowed = self.allowed()
        probs = torch.softmax(masked_logits(self.alphas.detach(), allowed), dim=-1)
        ops = sample_ops(self.alphas.detach(), allowed, self.noise.next())
        run = ops_union(ops.cpu())
        onehot = F.one_hot(ops, NUM_OPS).to(self.alphas.dtype)
        reach = path_reach(ops)[..., None].to(onehot.dtype)
        always = torch.ones(self.leaves, 1, dtype=torch.bool, device=self.device)
        computed = (onehot * reach).bool()  # BN statistics of these ops move
        trained = computed & path_useful(ops)[..., None]  # these ops get gradients
        stats_on = torch.cat([computed.flatten(1), always], dim=1).flatten()
        params_on = torch.cat([trained.flatten(1), always], dim=1).flatten()
        flat = self.flat.flat
        momentum = self.w_opt.state.get(flat, {}).get("momentum_buffer")
        saved = (flat.detach().clone(), None if momentum is None else momentum.clone(), self.stats.clone())
        z = onehot.clone().requires_grad_(True)
        with autocast(self.device):
            loss = leaf_losses(self.net(x_a, z * reach, run), y_a).sum()
        (dz,) = torch.autograd.grad(loss, [z])
        credit = dz.gather(-1, ops[..., None])
        self.alphas.grad = credit * (onehot - probs)
        self.a_opt.step()
        with autocast(self.device):
            logits = self.net(x_w, onehot * reach, run)
            losses = leaf_losses(logits, y_w)
        self.update_weights(losses)
        with torch.no_grad():
            on = params_on[self.param_owner]
            flat.copy_(torch.where(on, flat, saved[0]))
            buf = self.w_opt.state[flat]["momentum_buffer"] if self.cfg.momentum else None
            if buf is not None:
                buf.copy_(torch.where(on, buf, torch.zeros_like(buf) if saved[1] is None else saved[1]))
            self.stats.copy_(torch.where(stats_on[self.stats_owner], self.stats, saved[2]))
        return losses.detach(), logits.detach()

    def relaxed_weights(self) -> torch.Tensor:
        """(K, 6, 5) training-pass op weights: DARTS's softmax, SNAS's relaxed sample."""
        logits = masked_logits(self.alphas, self.mask_tensor)
        if self.snas:
            return relaxed_sample(logits, self.noise.next(), self.tau)
        return torch.softmax(logits, dim=-1)

    # ----- epochs
    def begin_epoch(self, epoch: int, epochs: int) -> None:
        if self.snas:
            self.tau.fill_(cosine_temperature(epoch, epochs, self.tau_start, self.tau_end))
        if self.snas or self.dsnas:
            self.noise.restart()

    def end_epoch(self) -> float:
        if self.dsnas:  # DSNAS's early stopping, once per epoch
            with torch.no_grad():
                fixed_edges_update(torch.softmax(masked_logits(self.alphas, self.allowed()), dim=-1),
                                   self.best_ops(), self.fixed, self.fixed_op, self.threshold)
            log.info("DSNAS: edges fixed per leaf: %s", " ".join(str(n) for n in self.fixed.sum(1).tolist()))
        lr = self.w_sched.get_last_lr()[0]
        self.w_sched.step()
        return lr

    # ----- steps
    def alpha_grad(self, x: torch.Tensor, y: torch.Tensor, full_precision: bool = False) -> torch.Tensor:
        """(K, 6, 5) gradient of each leaf's loss on (x, y) w.r.t. its alphas."""
        precision = torch.autocast(self.device.type, enabled=False) if full_precision else autocast(self.device)
        with precision:
            loss = leaf_losses(self.net(x, self.relaxed_weights()), y).sum()
        return torch.autograd.grad(loss, [self.alphas])[0]

    def weight_step(self, x_w: torch.Tensor, y_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(self.device):
            logits = self.net(x_w, self.relaxed_weights().detach())
            losses = leaf_losses(logits, y_w)
        self.update_weights(losses)
        return losses.detach(), logits.detach()

    def update_weights(self, losses: torch.Tensor) -> None:
        """One SGD step of every leaf on the gradient of its loss ((K,) ``losses``), each leaf's
        gradient clipped on its own."""
        self.flat.set_grads(torch.autograd.grad(losses.sum(), self.params, allow_unused=True))
        if self.cfg.grad_clip:
            self.flat.clip_grad_norm_(self.cfg.grad_clip)
        self.w_opt.step()

    def arch_step(self, x_a, y_a, x_w, y_w) -> None:
        if self.kind is Darts2nd:
            self.alphas.grad = self.hypergradient(x_a, y_a, x_w, y_w)
        else:
            self.alphas.grad = self.alpha_grad(x_a, y_a)
        self.a_opt.step()

    def step(self, x_w, y_w, x_a, y_a) -> tuple[torch.Tensor, torch.Tensor]:
        """One architecture step and one weight step of every leaf; (K,) losses, (K, B, J) logits."""
        if self.dsnas:
            return self.dsnas_step(x_w, y_w, x_a, y_a)
        self.arch_step(x_a, y_a, x_w, y_w)
        return self.weight_step(x_w, y_w)

    def hypergradient(self, x_a, y_a, x_w, y_w) -> torch.Tensor:
        """(K, 6, 5) second-order DARTS gradient of each leaf (see :mod:`fewshotnas.search.darts`),
        on the flat weights; weights and BN statistics come back unchanged."""
        flat = self.flat.flat
        saved = flat.detach().clone()
        buffers = [b.detach().clone() for b in self.net.buffers()]
        xi = self.w_sched.get_last_lr()[0]
        with autocast(self.device):
            loss = leaf_losses(self.net(x_w, self.relaxed_weights().detach()), y_w).sum()
        grad = self.flat.set_grads(torch.autograd.grad(loss, self.params, allow_unused=True))
        with torch.no_grad():  # virtual step w' = w − ξ(μ·m + g + λw)
            step = grad + self.cfg.weight_decay * flat
            buf = self.w_opt.state.get(flat, {}).get("momentum_buffer")
            if buf is not None:
                step.add_(buf, alpha=self.cfg.momentum)
            flat.sub_(xi * step)
        with autocast(self.device):
            val_loss = leaf_losses(self.net(x_a, self.relaxed_weights()), y_a).sum()
        val_grads = torch.autograd.grad(val_loss, [self.alphas, *self.params], allow_unused=True)
        d_alpha = val_grads[0]
        v = self.flat.set_grads(val_grads[1:]).clone()
        with torch.autocast(self.device.type, enabled=False):
            eps = Darts2nd.fd_scale / self.flat.leaf_sums(v.square()).sqrt().clamp_min(1e-12)
            shift = self.flat.per_element(eps.to(v.dtype)) * v
            with torch.no_grad():
                flat.copy_(saved + shift)
            grad_plus = self.alpha_grad(x_w, y_w, full_precision=True)
            with torch.no_grad():
                flat.copy_(saved - shift)
            grad_minus = self.alpha_grad(x_w, y_w, full_precision=True)
            with torch.no_grad():
                flat.copy_(saved)
                for b, kept in zip(self.net.buffers(), buffers):
                    b.copy_(kept)
        return d_alpha - xi * (grad_plus - grad_minus) / (2 * eps[:, None, None])

    # ----- state
    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.snas:
            state["tau"] = self.tau.detach().clone()
        if self.dsnas:
            state.update(fixed=self.fixed.clone(), fixed_op=self.fixed_op.clone())
        if self.snas or self.dsnas:
            state["noise"] = self.noise.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.snas:
            self.tau.copy_(state["tau"])
        if self.dsnas:
            self.fixed.copy_(state["fixed"])
            self.fixed_op.copy_(state["fixed_op"])
        if self.snas or self.dsnas:
            self.noise.load_state_dict(state["noise"])


def ops_union(ops: torch.Tensor) -> OpMask:
    """The run mask of K single-op paths ((K, 6) op indices, on the host): per edge, every op
    some leaf's path uses."""
    rows = [[False] * NUM_OPS for _ in range(NUM_EDGES)]
    for path in ops.tolist():
        for e, o in enumerate(path):
            rows[e][o] = True
    return OpMask(tuple(tuple(r) for r in rows))


@torch.no_grad()
def evaluate_leaves(forward, leaves: int, streams: SearchStreams, device: torch.device
                    ) -> tuple[list[float], list[float]]:
    """Per leaf: mean cross-entropy and accuracy (%) of ``forward`` (x → (K, B, J) logits) over
    the validation pass (one sync)."""
    k = leaves
    loss_sum = torch.zeros(k, device=device)
    correct = torch.zeros(k, device=device)
    count = 0
    for x, y in streams.val:
        with autocast(device):
            logits = forward(x)
        loss_sum += leaf_losses(logits, y, reduction="sum")
        correct += (logits.argmax(-1) == y).sum(1)
        count += len(y)
    losses, accs = (loss_sum / count).tolist(), (100.0 * correct / count).tolist()
    return losses, accs


def build_fused(algorithm_cls: type, data: PreparedData, masks: list[OpMask], network: dict, cfg: SearchConfig,
                seed: int, threads: int | None, device: torch.device) -> FusedSearch:
    """Initialise every leaf exactly as its separate run would (torch seeded with ``seed``, then
    the leaf's network and algorithm), then fuse them."""
    leaves = []
    for mask in masks:
        configure_torch(threads, seed)
        net = new_network(data, network, mask).to(device)
        leaves.append(algorithm_cls(net, mask, cfg, device))
    return FusedSearch(leaves, cfg, device)


def run_fused_search(
    algorithm: str,
    data: PreparedData,
    *,
    masks: list[OpMask],
    network: dict,
    search: dict,
    seed: int,
    out_finals: list[str | Path],
    resume_path: str | Path,
    device: str = "auto",
    threads: int | None = None,
    quiet: bool = False,
    labels: list[str] | None = None,
) -> list[pd.DataFrame]:
    """Search every leaf of ``masks`` from fresh weights as one fused program; returns one
    per-epoch log per leaf (the schema of :func:`~fewshotnas.search.common.run_search`'s, with
    ``epoch_seconds`` the fused epoch's time divided by the number of leaves) and writes each
    leaf's ``final.pt`` (its weights in the separate network's layout) to ``out_finals``.

    Disconnected leaves are recorded as :func:`run_search` records them. The resume file is
    rewritten after every epoch; a rerun with the same configuration continues from it. A
    non-finite loss or alpha in any leaf stops the whole job (:class:`DivergenceError`).
    """
    if algorithm not in FUSABLE:
        raise ValueError(f"search algorithm {algorithm!r} has no fused implementation; fusable: "
                         f"{', '.join(FUSABLE)} (set search.fuse: none to run it leaf by leaf)")
    if len(out_finals) != len(masks):
        raise ValueError(f"{len(masks)} leaves but {len(out_finals)} output paths")
    algorithm_cls = FUSABLE[algorithm]
    labels = labels or [f"leaf{k}" for k in range(len(masks))]
    cfg = search_config(search)
    configure_torch(threads, seed)
    dev = resolve_device(device)
    logs: list[pd.DataFrame | None] = [None] * len(masks)
    hashes = [leaf_config_hash(algorithm_cls, data, mask=m, network=network, search=search, seed=seed)
              for m in masks]
    live = []
    for k, mask in enumerate(masks):
        if mask.can_connect():
            live.append(k)
            continue
        log.warning("%s: every architecture of this leaf is disconnected; nothing to search, recorded with NaN "
                    "accuracy", labels[k])
        save_checkpoint(dict(format=SEARCH_FORMAT, config_hash=hashes[k], mask=mask.to_bits(), network=network,
                             disconnected=True), out_finals[k])
        logs[k] = disconnected_log(mask, cfg.epochs)
    if not live:
        Path(resume_path).unlink(missing_ok=True)
        return logs  # type: ignore[return-value]
    check_steps("fused search: weight half", len(data.weight), cfg.batch_size)
    check_steps("fused search: architecture half", len(data.arch), cfg.batch_size)
    live_masks = [masks[k] for k in live]
    fused = build_fused(algorithm_cls, data, live_masks, network, cfg, seed, threads, dev)
    log.info("fused %s search of %d leaves on %s", algorithm, len(live), dev)
    streams = SearchStreams(data, cfg, seed, dev)
    key = {"config": config_hash({"network": network, "search": search, "seed": seed, "algorithm": algorithm,
                                  "masks": [m.to_bits() for m in live_masks], "data": data.meta}),
           "code": code_hash("fewshotnas.search")}
    resume = EpochResume(resume_path, "fused search", key, {"algorithm": fused, **streams.generators()})
    net = fused.net
    for epoch in resume.epochs(cfg.epochs):
        t0 = time.perf_counter()
        fused.begin_epoch(epoch, cfg.epochs)
        net.train()
        loss_sum = torch.zeros(len(live), device=dev)
        correct = torch.zeros(len(live), device=dev)
        seen = 0
        with progress(streams.steps, f"fused {algorithm} ({len(live)} leaves) epoch {epoch + 1}/{cfg.epochs}",
                      quiet) as bar:
            for (x_w, y_w), (x_a, y_a) in streams.pairs():
                losses, logits = fused.step(x_w, y_w, x_a, y_a)
                loss_sum += losses * len(y_w)
                correct += (logits.argmax(-1) == y_w).sum(1)
                seen += len(y_w)
                bar.update()
        alphas = fused.alphas.detach().cpu()
        train_loss = (loss_sum / seen).tolist()
        train_acc = (100.0 * correct / seen).tolist()
        for i, k in enumerate(live):
            check_finite(labels[k], epoch + 1, train_loss[i], [r[i] for r in resume.rows], alphas=alphas[i],
                         num_classes=data.num_classes)
        lr = fused.end_epoch()
        net.eval()
        weights = fused.arch_weights().detach()
        if cfg.validation == "sampled" and algorithm_cls.samples_architectures:
            with batch_statistics(net):
                val_loss, val_acc = evaluate_leaves(fused.validation_forward(validation_noise(seed, epoch)),
                                                    len(live), streams, dev)
        else:
            val_loss, val_acc = evaluate_leaves(fused.eval_forward(), len(live), streams, dev)
        seconds = (time.perf_counter() - t0) / len(live)
        probs = weights.float().cpu()
        rows = []
        derive = fused.derive_masks()
        for i, _k in enumerate(live):
            genotype = derive_genotype(alphas[i], derive[i])
            rows.append(dict(epoch=epoch + 1, lr=lr, train_loss=train_loss[i], train_acc=train_acc[i],
                             val_loss=val_loss[i], val_acc=val_acc[i], genotype=genotype_to_str(genotype),
                             alphas=alphas[i].flatten().tolist(), arch_probs=probs[i].flatten().tolist(),
                             epoch_seconds=seconds, disconnected=False))
        resume.rows.append(rows)
        memory = (f", GPU memory peak {torch.cuda.max_memory_allocated(dev) / 2**20:.0f} MiB"
                  if dev.type == "cuda" else "")
        log.info("fused %s epoch %d/%d: val acc %s (%.1fs per leaf%s)", algorithm, epoch + 1, cfg.epochs,
                 " ".join(f"{a:.1f}" for a in val_acc), seconds, memory)
    derive = fused.derive_masks()
    for i, k in enumerate(live):
        final_genotype = derive_genotype(fused.alphas[i], derive[i])
        save_checkpoint(dict(format=SEARCH_FORMAT, config_hash=hashes[k], mask=masks[k].to_bits(), network=network,
                             alphas=fused.alphas[i].detach().cpu(), genotype=genotype_to_str(final_genotype),
                             disconnected=False, fused_leaves=len(live), state_dict=net.leaf_state_dict(i)),
                        out_finals[k])
        logs[k] = search_log_frame([r[i] for r in resume.rows])
    resume.finish()
    return logs  # type: ignore[return-value]

"""Sparse-kernel training (issue #16): a masked Linear layer trains on its surviving weights only.

A masked layer normally multiplies the full ``weight_orig * weight_mask`` tensor three times a step
(forward, input gradient, weight gradient) and Adam updates every entry. At high weight sparsity
:class:`SparseLinear` keeps only the surviving values (one parameter vector, in the CSR order of the
weight) and computes

- the forward ``y = x Wᵀ + b`` as ``(W_csr @ xᵀ)ᵀ`` — CSR of W times the transposed input, the layout
  that was fastest on this CPU (``x @ (Wᵀ)_csr`` is several times slower for the same product). The result
  stays feature-major in memory (returned as a transposed view): transposing copies cost more than the
  sparse products themselves at 98 % sparsity, so activations and gradients keep that layout from one sparse
  layer to the next, and a BatchNorm1d between them normalises it in place (:class:`FeatureMajorNorm`);
- the input gradient ``dx = dy W`` as ``((Wᵀ)_csr @ dyᵀ)ᵀ`` (the transpose's CSR, whose values are the
  same vector permuted once per step), skipped when the input needs no gradient (the first layer);
- the weight gradient only at the surviving positions: ``sampled_addmm(W_csr, dyᵀ, x)``, the sampled
  dense–dense product, whose values are the gradient of the values vector.

Adam then sees the values vector, so the optimiser state and step shrink with the weights. The
pruned positions never exist in this representation, so they stay exactly zero; the values are
written back into ``weight_orig`` (the ``torch.nn.utils.prune`` convention) when training ends.

Use it through ``TrainConfig(sparse_kernels=True)`` (``train`` swaps the layers in and out) or the
:func:`sparse_kernels` context manager. Masks are fixed while the context is open, so callbacks that
change masks (pruning during training) cannot run with it. Convolutions are left untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from prunekit.core.masks import current_mask
from prunekit.core.ops import FastDropout

log = logging.getLogger(__name__)

MIN_SPARSITY = 0.8  # below this a layer stays masked dense: CSR products lose to MKL's GEMM near 80 % density
MIN_WEIGHTS = 16_384  # smaller layers (MLP5's 512→10 head) stay masked dense: per-call overhead beats the saving


def _quiet_csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """A CSR tensor over existing index buffers (no copy, no beta-state warning, no invariant check)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(crow, col, values, size=tuple(size), check_invariants=False)


@dataclasses.dataclass(frozen=True)
class CsrPattern:
    """The fixed sparsity pattern of a weight: CSR indices of W and of Wᵀ, and the value permutation W → Wᵀ."""

    shape: tuple[int, int]
    crow: torch.Tensor
    col: torch.Tensor
    t_crow: torch.Tensor
    t_col: torch.Tensor
    t_perm: torch.Tensor  # values of Wᵀ's CSR = values of W's CSR [t_perm]

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> CsrPattern:
        """The pattern of a 2-D boolean mask; values are ordered row-major (``weight[mask]``)."""
        if mask.dim() != 2:
            raise ValueError(f"a CSR pattern needs a 2-D mask, got shape {tuple(mask.shape)}")
        mask = mask.bool()
        ones = mask.to(torch.float32)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
            w, t = ones.to_sparse_csr(), ones.t().contiguous().to_sparse_csr()
        order = torch.full(mask.shape, -1, dtype=torch.int64, device=mask.device)
        order[mask] = torch.arange(int(mask.sum()), device=mask.device)
        t_perm = order.t()[mask.t()]
        return cls(tuple(mask.shape), w.crow_indices(), w.col_indices(), t.crow_indices(), t.col_indices(), t_perm)

    @property
    def nnz(self) -> int:
        """Number of surviving weights."""
        return int(self.col.numel())

    def weight(self, values: torch.Tensor) -> torch.Tensor:
        """W as a CSR tensor over ``values``."""
        return _quiet_csr(self.crow, self.col, values, self.shape)

    def weight_t(self, values: torch.Tensor) -> torch.Tensor:
        """Wᵀ as a CSR tensor (the values permuted into its order)."""
        return _quiet_csr(self.t_crow, self.t_col, values[self.t_perm], self.shape[::-1])

    def dense(self, values: torch.Tensor) -> torch.Tensor:
        """W as a dense tensor (zeros at pruned positions)."""
        return self.weight(values).to_dense()


class _SparseLinearFunction(torch.autograd.Function):
    """``x Wᵀ + b`` with W in CSR; gradients for x, the values and b from sparse products only."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, values: torch.Tensor, bias: torch.Tensor | None,
                pattern: CsrPattern, feature_major: bool) -> torch.Tensor:
        ctx.pattern = pattern
        ctx.save_for_backward(x, values)
        ctx.has_bias = bias is not None
        # The product W xᵀ comes out (out, batch) in memory. With ``feature_major`` it is returned as its
        # transposed view (no copy): the modules up to the next Linear keep that layout (see swap_in), and
        # the next sparse layer's xᵀ is that memory again. Otherwise a batch-major copy is returned.
        out = torch.sparse.mm(pattern.weight(values), x.t().contiguous()).t()
        out = out if feature_major else out.contiguous()
        return out.add_(bias) if bias is not None else out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, values = ctx.saved_tensors
        pattern: CsrPattern = ctx.pattern
        grad_x = grad_values = grad_bias = None
        grad_t = grad_out.t().contiguous()
        if ctx.needs_input_grad[0]:
            grad_x = torch.sparse.mm(pattern.weight_t(values), grad_t).t()
        if ctx.needs_input_grad[1]:
            sampled = torch.sparse.sampled_addmm(pattern.weight(values), grad_t, x, beta=0.0)
            grad_values = sampled.values()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        return grad_x, grad_values, grad_bias, None, None


class SparseLinear(nn.Module):
    """A Linear layer that stores and trains only its surviving weights (CSR products; see the module doc)."""

    def __init__(self, weight: torch.Tensor, mask: torch.Tensor, bias: nn.Parameter | None) -> None:
        super().__init__()
        if weight.shape != mask.shape or weight.dim() != 2:
            raise ValueError(f"weight {tuple(weight.shape)} and mask {tuple(mask.shape)} must be equal 2-D shapes")
        self.pattern = CsrPattern.from_mask(mask)
        self.values = nn.Parameter(weight.detach()[mask.bool()].clone())
        self.bias = bias
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self.feature_major = False  # set by swap_in where the modules up to the next Linear keep the layout

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> SparseLinear:
        """The sparse twin of a (masked) Linear layer; its bias parameter is shared, not copied."""
        weight = linear.weight_orig if hasattr(linear, "weight_orig") else linear.weight
        return cls(weight, current_mask(linear) != 0, linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x Wᵀ + b`` for inputs of shape (..., in_features)."""
        lead = x.shape[:-1]
        flat = x.reshape(-1, self.in_features).to(self.values.dtype)
        out = _SparseLinearFunction.apply(flat, self.values, self.bias, self.pattern, self.feature_major and x.dim() == 2)
        return out.reshape(*lead, self.out_features)

    def dense_weight(self) -> torch.Tensor:
        """The weight as a dense tensor, zeros at the pruned positions."""
        return self.pattern.dense(self.values.detach())

    def extra_repr(self) -> str:
        total = self.in_features * self.out_features
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"kept={self.pattern.nnz}/{total} ({1 - self.pattern.nnz / total:.1%} sparse)")


class FeatureMajorNorm(nn.Module):
    """A BatchNorm1d after a sparse layer: a (batch, features) input stored feature-major is normalised as
    the (1, features, batch) tensor it is in memory (the same statistics, no transposing copy)."""

    def __init__(self, norm: nn.BatchNorm1d) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``norm(x)``, computed on the feature-major memory when ``x`` is a transposed view."""
        if x.dim() == 2 and not x.is_contiguous() and x.t().is_contiguous():
            return self.norm(x.t().unsqueeze(0)).squeeze(0).t()
        return self.norm(x)


def _layer_sparsity(linear: nn.Linear) -> float:
    """Pruned fraction of a Linear layer's weights (0 when it carries no mask)."""
    mask = current_mask(linear)
    return 1.0 - int(mask.count_nonzero()) / mask.numel()


def sparse_candidates(model: nn.Module, min_sparsity: float = MIN_SPARSITY,
                      min_weights: int = MIN_WEIGHTS) -> list[str]:
    """Names of the masked Linear layers with ≥ ``min_weights`` weights, sparse enough (≥ ``min_sparsity``,
    some weight kept) for CSR kernels."""
    if not 0.0 <= min_sparsity < 1.0:
        raise ValueError(f"min_sparsity must be in [0, 1), got {min_sparsity!r}")
    names = []
    for name, module in model.named_modules():
        masked = type(module) is nn.Linear and hasattr(module, "weight_mask")
        if masked and module.weight_mask.numel() >= min_weights:
            sparsity = _layer_sparsity(module)
            if min_sparsity <= sparsity < 1.0:
                names.append(name)
    return names


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The module holding the child called ``name`` and the child's attribute name."""
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


def _layout_safe(module: nn.Module) -> bool:
    """Whether a module computes the same numbers on a feature-major (transposed) input: elementwise ones,
    dropout that draws its mask in logical order, and BatchNorm1d (through FeatureMajorNorm)."""
    if isinstance(module, FastDropout):
        return not module.inplace
    return type(module) in (nn.BatchNorm1d, nn.LeakyReLU, nn.ReLU, nn.Identity)


def _feature_major_chain(parent: nn.Module, child: str) -> list[str] | None:
    """The siblings after ``child`` up to the next Linear in a Sequential ``parent`` when every one of them is
    layout-safe and a Linear follows ([] when a Linear follows at once); None otherwise (the sparse layer then
    returns batch-major output)."""
    if not isinstance(parent, nn.Sequential):
        return None
    names = list(parent._modules)
    chain = []
    for name in names[names.index(child) + 1:]:
        module = parent._modules[name]
        if type(module) is nn.Linear:
            return chain
        if not _layout_safe(module):
            return None
        chain.append(name)
    return None


def swap_in(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """Replace the named masked Linear layers by :class:`SparseLinear` twins, keeping their output
    feature-major where the modules up to the next Linear allow it (a BatchNorm1d among them becomes a
    :class:`FeatureMajorNorm`); returns every replaced module by name."""
    originals: dict[str, nn.Module] = {}
    for name in names:
        parent, child = _parent(model, name)
        linear = getattr(parent, child)
        originals[name] = linear
        sparse = SparseLinear.from_linear(linear)
        chain = _feature_major_chain(parent, child)
        sparse.feature_major = chain is not None
        setattr(parent, child, sparse)
        prefix = name.rpartition(".")[0]
        for sibling in chain or ():
            module = parent._modules[sibling]
            if type(module) is nn.BatchNorm1d:
                originals[f"{prefix}.{sibling}" if prefix else sibling] = module
                setattr(parent, sibling, FeatureMajorNorm(module))
    return originals


@torch.no_grad()
def swap_out(model: nn.Module, originals: dict[str, nn.Module]) -> None:
    """Write the trained values back into each original layer's ``weight_orig`` and put every module back."""
    for name, original in originals.items():
        parent, child = _parent(model, name)
        swapped = getattr(parent, child)
        if isinstance(swapped, SparseLinear):
            weight = original.weight_orig if hasattr(original, "weight_orig") else original.weight
            mask = current_mask(original) != 0
            weight[mask] = swapped.values.detach().to(weight.dtype)
            if hasattr(original, "weight_mask"):
                original.weight = original.weight_orig * original.weight_mask  # what the prune pre-hook computes
        setattr(parent, child, original)


@contextlib.contextmanager
def sparse_kernels(model: nn.Module, min_sparsity: float = MIN_SPARSITY,
                   min_weights: int = MIN_WEIGHTS) -> Iterator[list[str]]:
    """Inside the block, the model's sparse masked Linear layers compute with CSR kernels; yields their names.

    Build the optimiser inside the block (it must see the values vectors); on exit the trained values
    return to ``weight_orig`` and the original layers come back.
    """
    names = sparse_candidates(model, min_sparsity, min_weights)
    log.info("sparse kernels for %d Linear layer(s): %s", len(names), ", ".join(names) or "none")
    originals = swap_in(model, names)
    try:
        yield names
    finally:
        swap_out(model, originals)


def train_sparse(model: nn.Module, train_batches, test_batches=None, config=None, callbacks: Sequence = ()):
    """``train`` with the sparse Linear layers swapped to CSR kernels for the whole run (fixed masks)."""
    from prunekit.training.loop import TrainConfig, resolve_device, train_loop

    config = config or TrainConfig(sparse_kernels=True)
    if callbacks:
        raise ValueError("sparse_kernels=True trains fixed masks; callbacks (pruning during training, "
                         "regularisers) need the masked dense layers: drop the callbacks or sparse_kernels")
    model.to(resolve_device(config.device))
    with sparse_kernels(model, MIN_SPARSITY, MIN_WEIGHTS):  # read at call time: tests may lower them
        return train_loop(model, train_batches, test_batches, dataclasses.replace(config, sparse_kernels=False))

"""torchvision's RAFT (Teed and Deng, 2020) as a mebench flow estimator.

Inputs are prepared as torchvision requires: RGB 0-255 mapped to [-1, 1], H and W padded
(replicating the border, bottom and right) to a multiple of 8 and to at least 128, so that the
4-level correlation pyramid can be built (torchvision needs 16x16 feature maps at 1/8); the flow is
cropped back to the input size, so any size goes in and the same size comes out.

Source encoded once. torchvision's ``RAFT.forward`` already runs the feature encoder once on
``src`` and ``dst`` stacked. mebench's scorer sends a sample's two pairs, ``(source, target)`` and
``(source, edited)``, in the same batch, so the source would be encoded twice by the feature encoder
and twice by the context encoder. Rather than fork torchvision's forward (its refinement loop and
correlation block are used as they are), each of the two encoders is wrapped in
:class:`SharedEncoder`, which runs the encoder once per *distinct* image of the batch and hands the
result to every row holding that image. Both encoders normalise per image (instance or batch norm in
eval mode), so this is exact; only the correlation lookup and the update iterations, which differ
per pair, run per pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mebench.plugins.raft.weights import VARIANTS, resolve

if TYPE_CHECKING:
    import torch

MIN_SIDE = 128  # the correlation pyramid needs 16x16 feature maps at 1/8


def _distinct_rows(x: torch.Tensor) -> list[int]:
    """For each row of ``x``, the index of the first row holding the same tensor."""
    import torch

    flat = x.reshape(x.shape[0], -1)
    prints = torch.stack([flat.double().sum(1), flat.double().square().sum(1)], 1).tolist()
    first: list[int] = []
    reps: list[int] = []
    for i in range(x.shape[0]):
        same = next((j for j in reps if prints[j] == prints[i] and torch.equal(flat[j], flat[i])),
                    None)
        if same is None:
            reps.append(i)
        first.append(i if same is None else same)
    return first


def _shared_encoder_class() -> Any:
    import torch

    class SharedEncoder(torch.nn.Module):
        """Runs ``inner`` once per distinct image of the batch; counts the images it encoded."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.images_encoded = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = _distinct_rows(x)
            distinct = sorted(set(rows))
            self.images_encoded += len(distinct)
            if len(distinct) == x.shape[0]:
                return self.inner(x)
            out = self.inner(x[distinct])
            position = {row: k for k, row in enumerate(distinct)}
            return out[[position[r] for r in rows]]

    return SharedEncoder


class RAFTFlow:
    """``estimate(src, dst)`` with torchvision's ``raft_large`` or ``raft_small``.

    ``weights`` names a torchvision enum member (default ``C_T_SKHT_V2`` for large, ``C_T_V2``
    for small), ``checkpoint`` a state dict file (loaded strictly); ``random_weights=True`` builds a
    randomly initialised model from ``seed`` and is meant for tests and speed measurements only.
    ``num_flow_updates`` is the number of GRU refinement iterations (torchvision's default 12).
    """

    supports_autocast = True

    def __init__(self, *, variant: str, weights: str | None = None, checkpoint: str | None = None,
                 random_weights: bool = False, seed: int = 0, num_flow_updates: int = 12,
                 device: str | None = None) -> None:
        import torch
        import torchvision
        from torchvision.models.optical_flow import raft

        # 1. Check inputs
        if variant not in VARIANTS:
            raise ValueError(f"unknown RAFT variant {variant!r}; choose one of {sorted(VARIANTS)}")
        if not isinstance(num_flow_updates, int) or isinstance(num_flow_updates, bool) \
                or num_flow_updates < 1:
            raise ValueError(f"num_flow_updates must be a positive integer, got "
                             f"{num_flow_updates!r}")
        if not isinstance(random_weights, bool):
            raise ValueError(f"random_weights must be true or false, got {random_weights!r}")
        # 2. Weights (a MebenchError naming the missing file comes from here)
        resolved = resolve(variant, weights=weights, checkpoint=checkpoint,
                           random_weights=random_weights)
        # 3. Build, load strictly, wrap the encoders
        builder = getattr(raft, VARIANTS[variant][0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = builder(weights=None, progress=False)
        if resolved.state_dict is not None:
            try:
                model.load_state_dict(resolved.state_dict, strict=True)
            except RuntimeError as exc:
                raise ValueError(f"the checkpoint does not fit {variant}: "
                                 f"{str(exc).splitlines()[0]} ...") from exc
        shared = _shared_encoder_class()
        model.feature_encoder = shared(model.feature_encoder)
        model.context_encoder = shared(model.context_encoder)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        self.variant = variant
        self.num_flow_updates = num_flow_updates
        self.weights_identity = resolved.identity if not random_weights else f"random-init-{seed}"
        self.version = (f"1+torchvision-{torchvision.__version__}+{self.weights_identity}"
                        f"+updates-{num_flow_updates}")

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        h, w = images.shape[-2:]
        ph = max(MIN_SIDE, -(-h // 8) * 8) - h
        pw = max(MIN_SIDE, -(-w // 8) * 8) - w
        x = images.to(self.device, non_blocking=True).float() / 127.5 - 1.0
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def estimate(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        import torch

        if src.ndim != 4 or src.shape[1] != 3 or src.shape != dst.shape:
            raise ValueError(f"expected two [B, 3, H, W] batches of one shape, got "
                             f"{tuple(src.shape)} and {tuple(dst.shape)}")
        h, w = src.shape[-2:]
        with torch.inference_mode():
            flows = self.model(self._prepare(src), self._prepare(dst),
                               num_flow_updates=self.num_flow_updates)[-1]
        return flows[..., :h, :w].float()

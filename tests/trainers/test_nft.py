"""The DiffusionNFT loss against a direct transcription of REFERENCE.md's formula."""

from __future__ import annotations

import pytest
import torch

from mebench.trainers.nft import add_noise, adaptive_x0_loss, mix_policies, nft_loss


def _reference_loss(v_theta, v_old, v_ref, x_t, x0, t, r, beta,  # type: ignore[no-untyped-def]
                    kl_weight, floor):
    """REFERENCE.md, written out sample by sample with no shared helper."""
    total = 0.0
    for i in range(x0.shape[0]):
        vp = (1 - beta) * v_old[i] + beta * v_theta[i]
        vn = (1 + beta) * v_old[i] - beta * v_theta[i]
        terms = []
        for v in (vp, vn):
            x0_hat = x_t[i] - t[i] * v
            num = ((x0_hat - x0[i]) ** 2).mean()
            den = max(float((x0_hat - x0[i]).detach().abs().mean()), floor)
            terms.append(num / den)
        kl = ((v_theta[i] - v_ref[i]) ** 2).mean()
        total = total + r[i] * terms[0] + (1 - r[i]) * terms[1] + kl_weight * kl
    return total / x0.shape[0]


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_loss_matches_the_formula_on_random_tensors(beta: float) -> None:
    g = torch.Generator().manual_seed(0)
    shape = (5, 3, 4, 4)
    x0, eps, v_old, v_ref = (torch.randn(shape, generator=g, dtype=torch.float64)
                             for _ in range(4))
    v_theta = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.rand(5, generator=g, dtype=torch.float64)
    r = torch.rand(5, generator=g, dtype=torch.float64)
    x_t, v = add_noise(x0, eps, t)
    assert torch.allclose(x_t, (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * eps)
    assert torch.allclose(v, eps - x0)
    out = nft_loss(v_theta=v_theta, v_old=v_old, v_ref=v_ref, x_t=x_t, x0=x0, t=t, r=r,
                   beta=beta, kl_weight=0.3, floor=1e-5)
    expected = _reference_loss(v_theta, v_old, v_ref, x_t, x0, t, r, beta, 0.3, 1e-5)
    assert out.loss.item() == pytest.approx(float(expected.detach()), rel=1e-12)
    # the gradient: the adaptive weight's denominator is a constant (stop-gradient)
    (grad,) = torch.autograd.grad(out.loss, v_theta)
    by_hand = torch.zeros_like(v_theta)
    n = v_theta[0].numel()
    for i in range(5):
        for sign, weight in ((1.0, r[i]), (-1.0, 1 - r[i])):
            mixed = (v_old[i] + sign * beta * (v_theta[i] - v_old[i])).detach()
            err = x_t[i] - t[i] * mixed - x0[i]
            den = max(float(err.abs().mean()), 1e-5)
            by_hand[i] += weight * 2 * err * (-t[i]) * sign * beta / (n * den)
        by_hand[i] += 0.3 * 2 * (v_theta[i] - v_ref[i]).detach() / n
    assert torch.allclose(grad, by_hand / 5, rtol=1e-10, atol=1e-12)


def test_policies_and_parts() -> None:
    v_theta, v_old = torch.tensor([[2.0]]), torch.tensor([[1.0]])
    pos, neg = mix_policies(v_theta, v_old, 0.5)
    assert pos.item() == 1.5 and neg.item() == 0.5
    # r = 1 keeps only the positive term, r = 0 only the negative one
    x0, x_t, t = torch.zeros(1, 1), torch.ones(1, 1), torch.full((1,), 0.5)
    one = nft_loss(v_theta=v_theta, v_old=v_old, v_ref=v_theta, x_t=x_t, x0=x0, t=t,
                   r=torch.ones(1), beta=0.5, kl_weight=0.0)
    zero = nft_loss(v_theta=v_theta, v_old=v_old, v_ref=v_theta, x_t=x_t, x0=x0, t=t,
                    r=torch.zeros(1), beta=0.5, kl_weight=0.0)
    assert one.loss.item() == pytest.approx(one.positive.item())
    assert zero.loss.item() == pytest.approx(zero.negative.item())
    # x0_hat = 1 - 0.5 * 1.5 = 0.25: 0.25^2 / 0.25
    assert one.positive.item() == pytest.approx(0.25)


def test_adaptive_weight_floor() -> None:
    x0 = torch.zeros(1, 4)
    loss = adaptive_x0_loss(torch.zeros(1, 4), x0, x0, torch.ones(1), floor=1e-5)
    assert loss.item() == 0.0  # a perfect prediction: 0 / floor, not 0 / 0


def test_bad_inputs_are_refused() -> None:
    a = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="beta"):
        mix_policies(a, a, 0.0)
    with pytest.raises(ValueError, match="differ"):
        mix_policies(a, torch.zeros(2, 4), 1.0)
    with pytest.raises(ValueError, match="t must be"):
        add_noise(a, a, torch.zeros(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nft_loss(v_theta=a, v_old=a, v_ref=a, x_t=a, x0=a, t=torch.zeros(2),
                 r=torch.tensor([0.5, 1.5]))
    ok = nft_loss(v_theta=a, v_old=a, v_ref=a, x_t=a, x0=a, t=torch.zeros(2),
                  r=torch.tensor([0.0, 1.0]))
    assert ok.loss.item() == 0.0

"""Cosine schedule, v-prediction algebra, DDIM with classifier-free guidance."""

from __future__ import annotations

import torch

from train.config import DiffusionConfig, ModelConfig
from train.diffusion import (CosineSchedule, DDIMSampler, EpsPrediction, ScaledLinearSchedule,
                             VPrediction, make_diffusion)
from train.model import UNet3D


def test_cosine_schedule_is_variance_preserving_and_monotone():
    s = CosineSchedule(1000)
    t = torch.arange(1000)
    alpha, sigma = s.alpha_sigma(t)
    assert torch.allclose(alpha**2 + sigma**2, torch.ones(1000))
    assert (alpha[1:] < alpha[:-1]).all()
    assert alpha[0] > 0.999 and 0 < alpha[-1] < 0.01
    # Nichol & Dhariwal: alpha_bar(t) ~= cos^2(((t+1)/T + s)/(1+s) * pi/2) / cos^2(s/(1+s) * pi/2)
    u = torch.tensor((500 + 1) / 1000, dtype=torch.float64)
    expected = torch.cos((u + 0.008) / 1.008 * torch.pi / 2) ** 2 / torch.cos(
        torch.tensor(0.008 / 1.008 * torch.pi / 2, dtype=torch.float64)) ** 2
    assert torch.isclose(s.alphas_cumprod[500], expected, rtol=1e-6)


def test_v_prediction_round_trip():
    vp = VPrediction(CosineSchedule(100))
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(3, 3, 2, 4, 4, generator=g) * 2 - 1, torch.randn(3, 3, 2, 4, 4, generator=g)
    t = torch.tensor([0, 50, 99])
    z = vp.schedule.add_noise(x0, eps, t)
    x0_hat, eps_hat = vp.to_x0_eps(z, vp.target(x0, eps, t), t)
    assert torch.allclose(x0_hat, x0, atol=1e-5) and torch.allclose(eps_hat, eps, atol=1e-5)


def oracle(vp: VPrediction, x0: torch.Tensor):
    """A perfect denoiser for a single data point x0: returns the true v."""
    def model(z, t, ctx, mask):
        alpha, sigma = (a.view(-1, 1, 1, 1, 1) for a in vp.schedule.alpha_sigma(t))
        eps = (z - alpha * x0) / sigma
        return alpha * eps - sigma * x0
    return model


def test_ddim_with_a_perfect_denoiser_lands_on_the_data():
    sampler = DDIMSampler(CosineSchedule(1000), steps=10)
    x0 = torch.linspace(-0.9, 0.9, 2 * 3 * 2 * 4 * 4).view(2, 3, 2, 4, 4)
    cond = (torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool))
    out = sampler.sample(oracle(sampler.param, x0), tuple(x0.shape), cond, cond, 1.0,
                         torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-4)
    assert sampler.times[0] == 999 and sampler.times[-1] == 0 and len(sampler.times) == 10


def test_classifier_free_guidance_mixes_conditional_and_unconditional():
    sampler = DDIMSampler(CosineSchedule(10), steps=2)

    def model(z, t, ctx, mask):  # v = mean of the context tokens
        return ctx.mean(dim=(1, 2)).view(-1, 1, 1, 1, 1).expand_as(z)

    z, t = torch.zeros(2, 1, 1, 2, 2), torch.tensor([5, 5])
    cond = (torch.full((2, 3, 4), 1.0), torch.ones(2, 3, dtype=torch.bool))
    null = (torch.full((2, 3, 4), 0.5), torch.ones(2, 3, dtype=torch.bool))
    v = sampler._guided_v(model, z, t, cond, null, guidance=3.0)
    assert torch.allclose(v, torch.full_like(v, 0.5 + 3.0 * (1.0 - 0.5)))


def test_sampler_returns_finite_video_from_the_unet():
    torch.manual_seed(0)
    cfg = ModelConfig(base_channels=16, channel_mults=[1, 2], heads=2, head_dim=8, groups=4)
    model = UNet3D(cfg, context_dim=8).eval()
    sampler = DDIMSampler(CosineSchedule(100), steps=3, eta=0.5)
    cond = (torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool))
    null = (torch.zeros(2, 5, 8), torch.ones(2, 5, dtype=torch.bool))
    out = sampler.sample(model, (2, 3, 4, 16, 16), cond, null, 4.0, torch.Generator().manual_seed(1))
    assert out.shape == (2, 3, 4, 16, 16) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0 and out.std() > 0


def test_scaled_linear_schedule_is_stable_diffusions():
    from diffusers import DDPMScheduler

    ours = ScaledLinearSchedule(1000, 0.00085, 0.012)
    theirs = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                           beta_schedule="scaled_linear")
    assert torch.allclose(ours.alphas_cumprod.float(), theirs.alphas_cumprod, rtol=1e-5)


def test_epsilon_prediction_round_trip_and_ddim_with_a_perfect_denoiser():
    cfg = DiffusionConfig(schedule="scaled_linear", prediction="epsilon", timesteps=1000)
    param = make_diffusion(cfg)
    assert isinstance(param, EpsPrediction) and isinstance(param.schedule, ScaledLinearSchedule)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 4, 2, 4, 4, generator=g) * 4 - 2
    eps = torch.randn(3, 4, 2, 4, 4, generator=g)
    t = torch.tensor([0, 500, 999])
    z = param.schedule.add_noise(x0, eps, t)
    assert torch.equal(param.target(x0, eps, t), eps)
    x0_hat, _ = param.to_x0_eps(z, eps, t)
    assert torch.allclose(x0_hat, x0, atol=1e-3)

    def model(z, t, ctx, mask):  # the true noise for the single data point x0
        alpha, sigma = (a.view(-1, 1, 1, 1, 1) for a in param.schedule.alpha_sigma(t))
        return (z - alpha * x0) / sigma

    sampler = DDIMSampler(param.schedule, steps=10, param=param)
    cond = (torch.zeros(3, 2, 4), torch.ones(3, 2, dtype=torch.bool))
    out = sampler.sample(model, tuple(x0.shape), cond, cond, 1.0, torch.Generator().manual_seed(1),
                         clip=False)  # latents: values beyond [-1, 1] are kept
    assert torch.allclose(out, x0, atol=1e-3) and out.abs().max() > 1.5

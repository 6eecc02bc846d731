"""The diffusion process: cosine noise schedule, v-prediction loss, DDIM sampler.

Three small classes, each after one paper:

- :class:`CosineSchedule`: Nichol & Dhariwal 2021, "Improved Denoising Diffusion
  Probabilistic Models" (cosine alpha-bar, betas clipped at 0.999);
  :class:`ScaledLinearSchedule`: Stable Diffusion's, for inflated SD U-Nets.
- :class:`EpsPrediction`: Ho et al. 2020 (the network predicts the noise; SD 1.x).
- :class:`VPrediction`: Salimans & Ho 2022, "Progressive Distillation for Fast
  Sampling of Diffusion Models" (the network predicts v = alpha * eps - sigma * x0).
- :class:`DDIMSampler`: Song, Meng & Ermon 2021, "Denoising Diffusion Implicit
  Models", with classifier-free guidance of Ho & Salimans 2022, "Classifier-Free
  Diffusion Guidance".

Timesteps are integers 0..N-1 (N = ``diffusion.timesteps``); step i has signal rate
alpha_i = sqrt(alpha_bar_i) and noise rate sigma_i = sqrt(1 - alpha_bar_i). Videos are
(B, C, T, H, W) float in [-1, 1].
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

# (z_t (B, C, T, H, W), t (B,) long, context, mask) -> v-prediction (B, C, T, H, W)
Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _bcast(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return a.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


class NoiseSchedule:
    """A discrete variance-preserving schedule given by its betas (N,) float64."""

    def __init__(self, betas: torch.Tensor):
        self.timesteps = len(betas)
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)  # (N,) float64

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Signal and noise rates at integer steps ``t`` (B,) -> two (B,) float32."""
        abar = self.alphas_cumprod.to(t.device)[t.long()]
        return abar.sqrt().float(), (1 - abar).sqrt().float()

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """z_t = alpha_t * x0 + sigma_t * noise, same shape as x0."""
        alpha, sigma = self.alpha_sigma(t)
        return _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * noise


class CosineSchedule(NoiseSchedule):
    """Cosine noise schedule (Nichol & Dhariwal 2021).

    alpha_bar(i) = f(i + 1) / f(0) with f(u) = cos(((u / N) + s) / (1 + s) * pi / 2) ** 2,
    computed through betas clipped to 0.999 so the last step keeps a little signal.
    """

    def __init__(self, timesteps: int = 1000, s: float = 0.008):
        u = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
        super().__init__((1 - f[1:] / f[:-1]).clamp(max=0.999))


class ScaledLinearSchedule(NoiseSchedule):
    """Stable Diffusion's "scaled linear" schedule (Rombach et al. 2022): betas
    linear in sqrt from ``beta_start`` to ``beta_end`` (0.00085 and 0.012 over 1000
    steps for SD 1.x/2.x), the schedule an inflated SD U-Net was trained with."""

    def __init__(self, timesteps: int = 1000, beta_start: float = 0.00085,
                 beta_end: float = 0.012):
        root = torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=torch.float64)
        super().__init__(root**2)


class VPrediction:
    """v-prediction parameterisation and loss (Salimans & Ho 2022).

    Target v = alpha * eps - sigma * x0; from a prediction, x0 = alpha * z - sigma * v
    and eps = sigma * z + alpha * v. The loss is the mean squared error on v.
    """

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """v target, same shape as x0."""
        alpha, sigma = self.schedule.alpha_sigma(t)
        return _bcast(alpha, x0) * noise - _bcast(sigma, x0) * x0

    def to_x0_eps(self, z: torch.Tensor, v: torch.Tensor, t: torch.Tensor):
        """(x0, eps) predicted from z_t and v, each shaped like z."""
        alpha, sigma = self.schedule.alpha_sigma(t)
        a, s = _bcast(alpha, z), _bcast(sigma, z)
        return a * z - s * v, s * z + a * v

    def loss(self, model: Denoiser, x0: torch.Tensor, context: torch.Tensor, mask: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        """Scalar float32 MSE(v_pred, v) at steps t ~ U{0..N-1} and eps ~ N(0, I) drawn
        from ``generator`` (on x0's device)."""
        b = x0.shape[0]
        t = torch.randint(0, self.schedule.timesteps, (b,), generator=generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        z = self.schedule.add_noise(x0, noise, t)
        pred = model(z, t, context, mask)
        return F.mse_loss(pred.float(), self.target(x0, noise, t).float())


class EpsPrediction(VPrediction):
    """epsilon-prediction (Ho et al. 2020, "DDPM"): the network predicts the noise, as
    Stable Diffusion 1.x does. Loss: MSE on eps."""

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """eps target (the noise itself)."""
        return noise

    def to_x0_eps(self, z: torch.Tensor, eps: torch.Tensor, t: torch.Tensor):
        """(x0, eps) from z_t and predicted eps: x0 = (z - sigma * eps) / alpha."""
        alpha, sigma = self.schedule.alpha_sigma(t)
        return (z - _bcast(sigma, z) * eps) / _bcast(alpha, z), eps


def make_diffusion(cfg) -> VPrediction:
    """Schedule and parameterisation of a ``DiffusionConfig``: v or epsilon prediction on
    the cosine or scaled-linear schedule."""
    if cfg.schedule == "cosine":
        schedule = CosineSchedule(cfg.timesteps, cfg.cosine_s)
    else:
        schedule = ScaledLinearSchedule(cfg.timesteps, cfg.beta_start, cfg.beta_end)
    return (VPrediction if cfg.prediction == "v" else EpsPrediction)(schedule)


class DDIMSampler:
    """DDIM sampler (Song et al. 2021) with classifier-free guidance (Ho & Salimans 2022).

    ``param``: the network's parameterisation (default v-prediction on ``schedule``).
    ``steps`` evenly spaced timesteps from N-1 down to 0; ``eta`` = 0 is the
    deterministic sampler, 1 matches DDPM's posterior noise. Guidance scale g mixes
    v = v_uncond + g * (v_cond - v_uncond) (g = 1: conditional only, g = 0: none);
    the unconditional branch uses the empty caption's tokens.
    """

    def __init__(self, schedule: NoiseSchedule, steps: int = 50, eta: float = 0.0,
                 param: VPrediction | None = None):
        self.param = param or VPrediction(schedule)
        self.schedule, self.eta = schedule, eta
        n = schedule.timesteps
        self.times = torch.linspace(n - 1, 0, min(steps, n)).round().long().unique_consecutive()

    def _guided_v(self, model: Denoiser, z, t, cond, null, guidance: float) -> torch.Tensor:
        if guidance == 1.0:
            return model(z, t, *cond)
        ctx = torch.cat([cond[0], null[0]]), torch.cat([cond[1], null[1]])
        v_c, v_u = model(torch.cat([z, z]), torch.cat([t, t]), *ctx).chunk(2)
        return v_u + guidance * (v_c - v_u)

    def _step(self, z, x0, eps, t_now: int, t_next: int, generator) -> torch.Tensor:
        abar = self.schedule.alphas_cumprod
        a_t = abar[t_now].item()
        a_s = abar[t_next].item() if t_next >= 0 else 1.0
        sig = self.eta * math.sqrt((1 - a_s) / (1 - a_t) * (1 - a_t / a_s))
        z = math.sqrt(a_s) * x0 + math.sqrt(max(1 - a_s - sig**2, 0.0)) * eps
        if sig > 0:
            z = z + sig * torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        return z

    @torch.no_grad()
    def sample(self, model: Denoiser, shape: tuple[int, ...], cond: tuple[torch.Tensor, torch.Tensor],
               null: tuple[torch.Tensor, torch.Tensor], guidance: float,
               generator: torch.Generator, clip: bool = True) -> torch.Tensor:
        """Draw (B, C, T, H, W) float32 videos clipped to [-1, 1].

        ``cond``/``null``: (tokens (B, L, D), mask (B, L)) of the prompts and of "".
        ``generator`` on the target device seeds the initial noise (and eta noise).
        ``clip=False`` leaves predictions unclipped (VAE latents are not in [-1, 1]).
        """
        device = cond[0].device
        z = torch.randn(shape, generator=generator, device=device)
        times = self.times.tolist()
        for i, t_now in enumerate(times):
            t = torch.full((shape[0],), t_now, device=device, dtype=torch.long)
            v = self._guided_v(model, z, t, cond, null, guidance).float()
            x0, _ = self.param.to_x0_eps(z, v, t)
            x0 = x0.clamp(-1, 1) if clip else x0
            alpha, sigma = self.schedule.alpha_sigma(t)
            eps = (z - _bcast(alpha, z) * x0) / _bcast(sigma, z)
            t_next = times[i + 1] if i + 1 < len(times) else -1
            z = self._step(z, x0, eps, t_now, t_next, generator)
        return z.clamp(-1, 1) if clip else z

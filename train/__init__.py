"""The bundled trainer: fit a text-conditioned video diffusion model on curated shards.

Modules: ``config`` (validated YAML configs), ``shards`` + ``data`` (WebDataset reader),
``video_io`` (PyAV decode/encode), ``text`` (frozen text encoders), ``layers`` +
``model`` (3D U-Net, Ho et al. 2022), ``latents`` (VAE codec, latent diffusion) +
``latent_shards`` (precomputed latents), ``inflate`` (Make-A-Video inflation of a
pretrained image U-Net), ``build`` (model and VAE from a config), ``diffusion``
(cosine or scaled-linear schedule, v- or epsilon-prediction, DDIM + classifier-free
guidance), ``optim``, ``checkpoint``, ``distributed``, ``metrics``, ``loop`` (the
training loop), ``sample`` and ``cli`` (commands).
No Ray import anywhere in this package.
"""

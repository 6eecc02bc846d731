"""The bundled trainer: fit a text-conditioned video diffusion model on curated shards.

Modules: ``config`` (validated YAML configs), ``shards`` + ``data`` (WebDataset reader),
``video_io`` (PyAV decode/encode), ``text`` (frozen text encoders), ``layers`` +
``model`` (3D U-Net, Ho et al. 2022), ``diffusion`` (cosine schedule, v-prediction,
DDIM + classifier-free guidance), ``optim``, ``checkpoint``, ``distributed``,
``metrics``, ``loop`` (the training loop), ``sample`` and ``cli`` (commands).
No Ray import anywhere in this package.
"""

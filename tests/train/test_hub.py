"""A model named by hub id while the Hugging Face Hub cannot be reached (``curate/hub.py``):
read from the local hub cache alone, at once, instead of after the hub client's retries.
The hub is a loopback port: one nobody listens on (out of reach), or a listening socket."""

from __future__ import annotations

import time

import pytest

from curate import hub
from support.hub import hub_endpoint, listening, no_waiting  # noqa: F401
from support.s3 import free_port
from train.config import VaeConfig
from train.latents import load_vae
from tests.train.tiny_sd import vae_config


def test_the_hub_is_out_of_reach_when_nothing_listens(hub_endpoint, tmp_path):
    hub_endpoint(free_port())
    assert hub.hub_reachable() is False
    assert hub.pretrained_kwargs("stabilityai/sd-vae-ft-mse") == {"local_files_only": True}
    assert hub.pretrained_kwargs(str(tmp_path)) == {}  # a local folder is read as it is


def test_a_listening_hub_is_reached_and_asked_as_usual(hub_endpoint):
    with listening() as port:
        hub_endpoint(port)
        assert hub.hub_reachable() is True
        assert hub.pretrained_kwargs("stabilityai/sd-vae-ft-mse") == {}


def test_a_proxy_is_left_to_reach_the_hub(hub_endpoint, monkeypatch):
    hub_endpoint(free_port())
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert hub.hub_reachable() is True


def test_a_cached_vae_loads_from_the_cache_with_the_hub_out_of_reach(hub_endpoint, monkeypatch, tmp_path):
    """The VAE saved into a hub cache's layout (``models--org--name/snapshots/<rev>``,
    ``refs/main``) loads by its hub id without a single request or retry."""
    from diffusers import AutoencoderKL
    from huggingface_hub import constants

    repo = tmp_path / "models--someone--tiny-vae"
    revision = "0123456789abcdef0123456789abcdef01234567"  # a commit hash, as the hub client keeps them
    AutoencoderKL(**vae_config()).save_pretrained(str(repo / "snapshots" / revision))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(time, "sleep", no_waiting)
    hub_endpoint(free_port())
    vae = load_vae(VaeConfig(name="someone/tiny-vae"))
    assert list(vae.config.block_out_channels) == list(vae_config()["block_out_channels"])


def test_a_vae_neither_cached_nor_reachable_fails_at_once_saying_why(hub_endpoint, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(time, "sleep", no_waiting)
    hub_endpoint(free_port())
    with pytest.raises(FileNotFoundError, match="vae.name 'someone/missing-vae'.*cannot be reached from here"):
        load_vae(VaeConfig(name="someone/missing-vae"))

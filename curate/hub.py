"""Models named by Hugging Face Hub id when the hub cannot be reached (offline machines).

``from_pretrained`` of a hub id asks huggingface.co first, even when the local hub cache
holds a copy, and the hub client retries a connection that fails (5 tries with growing
waits) before it gives up: offline, ``vidcurate latents`` waited about 30 s to say that
``stabilityai/sd-vae-ft-mse`` has no ``config.json``. :func:`pretrained_kwargs` asks once
per process whether the hub's host takes a TCP connection (at most
:data:`CONNECT_TIMEOUT_S`); where it does not, the model is read from the local cache
alone (``local_files_only=True``), so a cached copy loads at once and a missing one is
said at once (:func:`hub_hint`). ``HF_HUB_OFFLINE=1`` reads the cache alone as before;
with a proxy set (``HTTPS_PROXY`` and the like) the hub client is left to reach it.
"""

from __future__ import annotations

import functools
import os
import socket
import warnings
from urllib.parse import urlparse

CONNECT_TIMEOUT_S = 3.0
_PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def is_local(name: str) -> bool:
    """Whether ``name`` is a folder here (else it is read as a hub id)."""
    return os.path.isdir(os.path.expanduser(name))


@functools.lru_cache(maxsize=None)
def hub_reachable() -> bool:
    """Whether the Hugging Face Hub (``HF_ENDPOINT``, default https://huggingface.co) takes a
    TCP connection from here within :data:`CONNECT_TIMEOUT_S` seconds; False with
    ``HF_HUB_OFFLINE`` set, True with a proxy set (the proxy reaches it, or says why not).
    Asked once per process."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(name) for name in _PROXIES):
        return True
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError:  # no route, no name resolution, refused, timed out
        return False
    return True


def pretrained_kwargs(name: str) -> dict:
    """Extra ``from_pretrained`` keywords for model ``name``: ``{"local_files_only": True}``
    for a hub id while the hub cannot be reached (:func:`hub_reachable`), else ``{}``."""
    return {} if is_local(name) or hub_reachable() else {"local_files_only": True}


def model_path(name: str) -> str:
    """What to give a loader that fetches from the hub by itself (vLLM's ``LLM(model=...)``,
    which takes no ``local_files_only``): ``name`` as it is, or, for a hub id while the hub
    cannot be reached (:func:`hub_reachable`), the folder of its snapshot in the local hub
    cache. Raises FileNotFoundError (huggingface_hub's ``LocalEntryNotFoundError``) when
    no snapshot is cached."""
    if not pretrained_kwargs(name):
        return name
    from huggingface_hub import snapshot_download

    return snapshot_download(name, local_files_only=True)


def from_pretrained(cls, name: str, **kwargs):
    """``cls.from_pretrained(name, **kwargs)`` (a diffusers or transformers class) with
    :func:`pretrained_kwargs`, without the hub client's warning that diffusers passes it a
    deprecated ``local_dir_use_symlinks``. Raises what ``from_pretrained`` raises (OSError,
    ValueError for a model that cannot be found or read)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
        return cls.from_pretrained(name, **kwargs, **pretrained_kwargs(name))


def hub_hint(name: str) -> str:
    """For a model ``name`` that is no local folder, what a failed load means: a hub id needs
    huggingface.co or a copy in the local hub cache (the hub client's own message reads as
    a missing file), and whether the hub could be reached from here; "" for a folder."""
    if is_local(name):
        return ""
    from huggingface_hub import constants

    reach = ("" if hub_reachable() else "; HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else
             "; huggingface.co cannot be reached from here, so only the local hub cache was read")
    return (f" ({name!r} is no local folder, so it is a hub id: it needs huggingface.co, or a copy in the "
            f"hub cache (HF_HUB_OFFLINE=1 reads only that); or give a local folder{reach})")


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a folder, no hub id (``org/name``): an absolute or home
    path, one starting with ``./`` or ``../``, or one of more than two parts."""
    return name.startswith(("/", "~", "./", "../")) or name.strip("/").count("/") > 1


def _cached(name: str) -> bool:
    """Whether the local hub cache holds a snapshot of the hub id ``name`` (no request)."""
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(name, local_files_only=True)
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError, or an id the client refuses
        return False
    return True


def load_failure(name: str, err: BaseException) -> str:
    """What a failed load of the model ``name`` means, in one line: for a hub id that the hub
    cannot be asked for (:func:`hub_reachable` false) and the local hub cache does not hold,
    just that (the hub client's own words, "does not appear to have a file named
    config.json", read as a broken model: a new-user trial); else the error's text and
    :func:`hub_hint`."""
    if not is_local(name) and looks_like_path(name):  # (a break test: said as the hub out of reach)
        return f"no such folder: {os.path.abspath(os.path.expanduser(name))} (a hub id is org/name)"
    if not is_local(name) and not hub_reachable() and not _cached(name):
        from huggingface_hub import constants

        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "huggingface.co cannot be reached from here"
        return (f"not in the local hub cache, and {why} ({name!r} is no local folder, so it is a hub id: it "
                "needs huggingface.co or a copy in the hub cache; or give a local folder)")
    return f"{str(err).strip()}{hub_hint(name)}"

"""open_clip embeddings (a tiny model built from a config), semantic dedup and an aesthetic head trained here."""

import json

import cv2
import numpy as np
import pytest
import torch
from pydantic import ValidationError

from curate.dedup import DedupStage
from curate.quality import aesthetic, clip
from curate.quality.clip_stage import ClipEmbedStage
from curate.tasks import ClipTask
from support.dedup import clip_record, random_hashes

TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "vidcurate-tiny.json"
    path.write_text(json.dumps(TINY))
    torch.manual_seed(0)
    return dict(model="vidcurate-tiny", pretrained=None, clip_config=str(path))


def smooth(seed, n=4):
    rng = np.random.default_rng(seed)
    f = cv2.GaussianBlur(rng.uniform(0, 255, (96, 128, 3)).astype(np.float32), (0, 0), 10)
    f = ((f - f.min()) / (f.max() - f.min()) * 200 + 20).astype(np.uint8)
    return np.stack([np.roll(f, k, axis=1) for k in range(n)])


def noise(seed, n=4):
    return np.random.default_rng(seed).integers(0, 256, (n, 96, 128, 3), dtype=np.uint8)


def _task(cid, frames, path="a.mp4"):
    rec = clip_record(cid, "", path=path)
    return ClipTask(source=rec.source, span=rec.span, clip_id=cid, work_dir="", record=rec, frames=frames)


def test_clip_embeddings_are_unit_vectors_stored_as_float16(tiny):
    stage = ClipEmbedStage(**tiny)
    tasks = [_task("a", smooth(1)), _task("b", smooth(1)), _task("c", noise(2))]
    stage.process_batch(tasks)
    vecs = [clip.unpack(t.record.clip_embedding) for t in tasks]
    assert all(v.shape == (32,) and abs(np.linalg.norm(v) - 1) < 2e-3 for v in vecs)
    assert vecs[0] @ vecs[1] > 0.999  # same frames
    assert vecs[0] @ vecs[2] < 0.99  # other content
    emb = stage._clip
    texts = emb.texts(["a red car", "a person walking"])
    got = clip.caption_scores(emb, np.stack(vecs[:2]), ["a red car", "a person walking"])
    assert np.allclose(got, (np.stack(vecs[:2]) * texts).sum(axis=1), atol=1e-2)


def test_semantic_dedup_groups_clips_with_near_identical_embeddings(tiny):
    stage = ClipEmbedStage(**tiny)
    tasks = [_task("a", smooth(1)), _task("b", smooth(1), path="b.mp4"), _task("c", noise(2)),
             _task("d", smooth(5), path="d.mp4")]
    stage.process_batch(tasks)
    recs = [t.record for t in tasks]
    for r, h in zip(recs, random_hashes(4)):  # unrelated pHashes: only the embeddings can pair
        r.phash = h
    v = {r.clip_id: clip.unpack(r.clip_embedding) for r in recs}
    limit = max(v["a"] @ v["c"], v["a"] @ v["d"]) + 1e-3  # just over the closest distinct pair
    kept, dropped = DedupStage(edit_distance=None, semantic_min_cos=float(limit)).run(recs)
    assert [r.clip_id for r in kept] == ["a", "c", "d"]
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("b", "a")]
    kept, _ = DedupStage(edit_distance=None).run(recs)  # semantic rule off
    assert len(kept) == 4


def test_missing_open_clip_weights_fail_at_configuration(tiny, tmp_path):
    with pytest.raises(ValidationError, match="not found"):
        ClipEmbedStage(**{**tiny, "pretrained": str(tmp_path / "absent.pt")})
    with pytest.raises(ValidationError, match="no model config"):
        ClipEmbedStage(model="no-such-model", pretrained=None)
    with pytest.raises(ValidationError, match="aesthetic head .* not found"):
        ClipEmbedStage(**tiny, aesthetic_head=str(tmp_path / "head.pth"))


def _train_head(x, y, path):
    """A LAION-layout head (layers.0 linear, dropout, layers.2 linear) fitted to (x, y)."""
    torch.manual_seed(0)
    net = torch.nn.Module()
    net.layers = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 16), torch.nn.Dropout(0.1), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(400):
        opt.zero_grad()
        loss = ((net.layers(xt).squeeze(1) - yt) ** 2).mean()
        loss.backward()
        opt.step()
    torch.save(net.state_dict(), path)


def test_aesthetic_head_trained_on_synthetic_ratings_scores_and_filters(tiny, tmp_path):
    torch.manual_seed(0)  # the random weights the head is fitted on, whatever ran before
    emb = clip.ClipEmbedder(tiny["model"], None, tiny["clip_config"])
    good = [smooth(s) for s in range(10, 22)]
    bad = [noise(s) for s in range(10, 22)]
    x = clip.clip_vectors(emb, good + bad)
    y = np.r_[np.full(12, 8.0), np.full(12, 2.0)].astype(np.float32)  # synthetic ratings
    _train_head(x, y, tmp_path / "head.pth")
    head = aesthetic.load_head(str(tmp_path / "head.pth"))
    assert aesthetic.input_dim(head) == 32
    with pytest.raises(ValueError, match="32-d"):
        aesthetic.score(head, np.zeros((1, 8), np.float32))
    stage = ClipEmbedStage(**tiny, aesthetic_head=str(tmp_path / "head.pth"), min_aesthetic=5.0)
    stage._clip = emb  # the same random weights the head was fitted on
    stage._head = head
    # clips the head was fitted on, so their ratings are known (8 and 2): how a random
    # network's features carry to unseen clips depends on open_clip's initialisation
    # (open_clip_torch 3.3 put an unseen smooth clip at 5.1, 3.2 above 6)
    fine, poor = _task("g", smooth(12)), _task("p", noise(12))
    stage.process_batch([fine, poor])
    assert fine.reject_row is None and fine.record.scores.aesthetic > 6
    assert poor.reject_row.reason == "low_aesthetic" and poor.reject_row.scores.aesthetic < 5


def test_clip_score_is_the_cosine_of_clip_and_caption_and_filters(tiny):
    from curate.quality.clip_score_stage import ClipScoreStage
    from schemas import Caption

    embed = ClipEmbedStage(**tiny)
    tasks = [_task("a", smooth(1)), _task("b", noise(2)), _task("n", smooth(3))]
    embed.process_batch(tasks)
    tasks[0].record.caption = Caption(text="a smooth colour field", short="a smooth colour field")
    tasks[1].record.caption = Caption(text="static noise", short="static noise")
    want = [float(clip.unpack(t.record.clip_embedding) @ embed._clip.texts([t.record.caption.short])[0])
            for t in tasks[:2]]
    cut = (want[0] + want[1]) / 2  # one caption agrees more than the other
    strict = ClipScoreStage(**tiny, min_clip_score=cut)
    strict._clip = embed._clip  # the weights the embeddings were made with
    strict.process_batch(tasks)
    got = [t.record.scores.clip_score for t in tasks[:2]]
    assert np.allclose(got, want, atol=2e-3) and tasks[2].record.scores.clip_score is None  # no caption
    low = int(np.argmin(want))
    assert tasks[low].reject_row.reason == "caption_mismatch" and tasks[1 - low].reject_row is None
    assert tasks[2].reject_row is None

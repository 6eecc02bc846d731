"""Pieces of cleaning and restoring ``work/clips`` checked without a run: a shard is the
tar webdataset writes, clips come back out of a shard only whole and of the size their
record states, and ``vlm_caption`` needs the frame samples of its cache misses only."""


def test_unpack_clips_takes_members_of_the_right_size_and_survives_a_cut_shard(tmp_path):
    """Clip bytes come back out of a shard only with the size the record states; a shard
    cut in the middle gives back the clips before the cut, without an error."""
    from curate.shards import ShardJob, unpack_clips, write_shard

    blobs = {f"{i:024x}": bytes([i]) * (5000 + 700 * i) for i in range(3)}
    ids = sorted(blobs)
    for cid, data in blobs.items():
        (tmp_path / f"{cid}.src").write_bytes(data)
    samples = [(str(tmp_path / f"{cid}.src"), cid, b"{}", b"") for cid in ids]
    write_shard(ShardJob("s.tar", str(tmp_path / "s.tar"), samples))
    sizes = {cid: len(blobs[cid]) for cid in ids}
    got = unpack_clips(str(tmp_path / "s.tar"), {**sizes, ids[1]: sizes[ids[1]] + 1}, str(tmp_path / "clips"))
    assert got == [ids[0], ids[2]]
    assert all((tmp_path / "clips" / f"{c}.mp4").read_bytes() == blobs[c] for c in got)
    assert not (tmp_path / "clips" / f"{ids[1]}.mp4").exists()
    data = (tmp_path / "s.tar").read_bytes()
    cut = data.index(bytes([2]) * 100)  # inside the last clip's member
    (tmp_path / "cut.tar").write_bytes(data[:cut])
    assert unpack_clips(str(tmp_path / "cut.tar"), sizes, str(tmp_path / "again")) == ids[:2]
    assert not (tmp_path / "again" / f"{ids[2]}.mp4").exists()
    assert unpack_clips(str(tmp_path / "missing.tar"), sizes, str(tmp_path / "none")) == []


def test_frame_samples_are_needed_for_vlm_caption_cache_misses_only(tmp_path):
    """``vlm_caption`` reads the frame samples of clips its cache lacks (all of them with
    ``cache: false``); signal captions and clip_score read records only."""
    from types import SimpleNamespace

    from curate import store
    from curate.caption import CaptionStage
    from curate.captioning import VLMCaptionStage
    from curate.captioning.cache import CaptionCache
    from pipelines.workclips import frames_needed

    work = str(tmp_path / "work")
    records = [SimpleNamespace(clip_id=c) for c in ("a" * 24, "b" * 24, "c" * 24)]
    vlm = VLMCaptionStage(model="some/model")
    store.write_bytes(CaptionCache(work, vlm.cache_settings()).path("b" * 24), b"{}")
    assert frames_needed([CaptionStage(), vlm], work, records) == {"a" * 24, "c" * 24}
    assert frames_needed([CaptionStage(), vlm.model_copy(update={"cache": False})], work, records) == {
        "a" * 24, "b" * 24, "c" * 24}
    assert frames_needed([CaptionStage()], work, records) == set()


def test_write_shard_writes_the_tar_webdataset_writes_and_webdataset_reads_it(tmp_path):
    """The shard is byte for byte what ``webdataset.TarWriter`` (fixed user, mode and
    mtime) makes of the same samples, and webdataset reads the samples back."""
    import webdataset as wds

    from curate.shards import ShardJob, write_shard

    samples = []
    for i in range(3):
        cid = f"{i:024x}"
        (tmp_path / f"{cid}.src").write_bytes(bytes([i + 1]) * (3000 + 517 * i))
        samples.append((str(tmp_path / f"{cid}.src"), cid, b'{"n": %d}' % i, f"caption {i}".encode()))
    info = write_shard(ShardJob("ours.tar", str(tmp_path / "ours.tar"), samples))
    with wds.TarWriter(str(tmp_path / "wds.tar"), user="vidcurate", group="vidcurate", mode=0o644,
                       encoder=False, mtime=0) as sink:
        for src, key, meta, txt in samples:
            sink.write({"__key__": key, "mp4": open(src, "rb").read(), "json": meta, "txt": txt})
    assert (tmp_path / "ours.tar").read_bytes() == (tmp_path / "wds.tar").read_bytes()
    assert (info.samples, info.bytes) == (3, (tmp_path / "ours.tar").stat().st_size)
    back = list(wds.WebDataset(str(tmp_path / "ours.tar"), shardshuffle=False))
    assert [(s["__key__"], s["txt"], len(s["mp4"])) for s in back] == [
        (f"{i:024x}", f"caption {i}".encode(), 3000 + 517 * i) for i in range(3)]

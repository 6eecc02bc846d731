"""The fast kernels of the score stage give what their plain definitions give, on generated input."""

import cv2
import numpy as np
import pytest

from curate.camcand import _IDENTITY, vector_length
from curate.camfit import _cell_spread
from curate.flow import dense_flow
from curate.residual import _int_median, changed
from curate.score import luma, motion_track, one_cv_thread, sharpness


def test_vector_length_equals_norm():
    v = np.random.default_rng(0).normal(0, 3, (40, 50, 2)).astype(np.float32)
    assert np.array_equal(vector_length(v), np.linalg.norm(v, axis=-1))
    assert vector_length(np.array([[3.0, 4.0]], np.float32))[0] == 5.0


@pytest.mark.parametrize("n", [1, 2, 7, 10, 21888])
def test_int_median_equals_median(n):
    rng = np.random.default_rng(n)
    for lo, hi in ((-3, 3), (-255, 256), (100, 256), (-255, -200)):
        v = rng.integers(lo, hi, n).astype(np.int16)
        assert _int_median(v) == np.median(v.astype(np.float32))
    assert _int_median(np.array([-255, 255], np.int16)) == 0.0
    assert _int_median(np.array([3, 4, 4, 9], np.int16)) == 4.0
    assert _int_median(np.array([3, 4, 5, 9], np.int16)) == 4.5


@pytest.mark.parametrize("shape", [(108, 155), (107, 300, 3), (16, 16, 1)])
def test_cell_spread_is_mean_absolute_deviation_per_cell(shape):
    d = np.random.default_rng(1).normal(0, 20, shape).astype(np.float32)
    got = _cell_spread(d, 8)
    planes = d[..., None] if d.ndim == 2 else d
    ch, cw = shape[0] // 8, shape[1] // 8
    for k in range(planes.shape[2]):
        want = [np.abs(c - c.mean()).mean() for i in range(8) for j in range(8)
                for c in [planes[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw, k].astype(np.float64)]]
        row = got if d.ndim == 2 else got[k]
        np.testing.assert_allclose(row, want, rtol=1e-5, atol=1e-5)


def test_changed_marks_the_moved_square_only():
    prev = np.full((64, 80), 100, np.uint8)
    cur = prev.copy()
    cur[20:30, 30:40] = 200  # a square appears; the rest brightens by 2 levels (exposure)
    cur[cur == 100] = 102
    mask = changed(prev, cur, _IDENTITY)
    assert mask[25, 35] and mask[20 - 3, 35]  # inside, and grown by the 7x7 dilation
    assert not mask[5, 5] and not mask[25, 70]


def test_luma_and_sharpness_match_their_definitions():
    f = np.random.default_rng(2).integers(0, 256, (3, 30, 41, 3), dtype=np.uint8)
    x = f.astype(np.float64)
    np.testing.assert_allclose(luma(f), (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).mean(axis=(1, 2)),
                               rtol=1e-12)
    want = np.mean([cv2.Laplacian(cv2.cvtColor(g, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for g in f])
    assert sharpness(f) == pytest.approx(want, rel=1e-9)


def test_one_cv_thread_restores_the_thread_count():
    before = cv2.getNumThreads()
    with one_cv_thread():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before


def test_one_blas_thread_holds_numpys_blas_to_one_thread_and_restores_it():
    from threadpoolctl import threadpool_info, threadpool_limits

    from curate.cvthreads import one_blas_thread

    def blas() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):  # two threads before, whatever the machine
        assert blas() and set(blas()) == {2}  # NumPy's OpenBLAS is loaded
        with one_blas_thread():
            assert set(blas()) == {1}
        assert set(blas()) == {2}


def test_dis_flow_does_not_depend_on_earlier_calls():
    rng = np.random.default_rng(3)
    a = cv2.GaussianBlur(rng.integers(0, 256, (96, 128), dtype=np.uint8), (5, 5), 0)
    b = np.roll(a, 2, axis=1)
    fresh = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(a, b, None)
    other = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    dense_flow(other, np.roll(other, 1, axis=0))  # another size first: a kept instance would drift
    assert np.array_equal(dense_flow(a, b), fresh)
    dense_flow(b, a)  # same size, other frames
    assert np.array_equal(dense_flow(a, b), fresh)
    assert np.median(fresh[20:-20, 20:-20, 0]) == pytest.approx(2.0, abs=0.3)


def test_motion_track_luma_is_the_frame_mean():
    frames = np.random.default_rng(4).integers(0, 256, (3, 48, 64), dtype=np.uint8)
    track, _ = motion_track(frames, [0.0, 0.25, 0.5], "dis")
    assert [s.luma for s in track] == [round(float(f.mean()), 3) for f in frames[1:]]


def test_flow_of_a_pair_does_not_depend_on_what_the_thread_computed_before():
    """OpenCV's DIS gives another flow on an instance's first call at some sizes (45 x 80):
    the flow kept per thread is warmed up, so a clip's first pair is the same whether or
    not the thread saw frames of its size before."""
    import threading

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.integers(0, 255, (90, 200), dtype=np.uint8), (0, 0), 2)
    a, b = big[:45, 10:90].copy(), big[:45, 12:92].copy()
    got = []

    def fresh_thread(first_other):
        with one_cv_thread():
            if first_other:
                dense_flow(b, a)
            got.append(dense_flow(a, b))

    for first_other in (False, True):
        t = threading.Thread(target=fresh_thread, args=(first_other,))
        t.start()
        t.join()
    assert np.array_equal(got[0], got[1])
    assert abs(float(got[0][..., 0].mean()) + 2.0) < 0.5  # the content moves 2 pixels left

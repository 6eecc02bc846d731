"""The layout rules of the camera fit (curate.camrules) on cell maps of known layout.

Each map is an 8 x 8 grid of cells as :func:`curate.camfit.fit_camera` judges them, row
by row: ``M`` the moving model clearly beats the fixed camera, ``s`` the fixed camera
clearly beats it, ``.`` the cell tells models apart but neither clearly wins, a space a
flat cell. Each is the fit's own map of one step: a pan over a sparse street under a
still lower third and one beside a still side panel (bench/camera_large.py), and an
object 72 % of the width sliding right across the textured fixed view of
tests/curate/test_camera.py (still above, below and to its right).
"""

import numpy as np

from curate.camrules import edge_band, still_ring

LOWER_BAR = """\
MM  M M \n   MM  M\nM  MMM  \nM MMM  M\nMMMMM M \nss MMss \nssssssss\nssssssss"""
SIDE_PANEL = """\
MMMM sss\nMMMMssss\nMMMM sss\nMMMM sss\nMMMM sss\nMMMM sss\nMMMM sss\nM s  sss"""
OBJECT_ACROSS = """\
ssssssss\nMMMMMMMs\nMMMMMMMs\nMMMMMMMs\nMMMMMMMs\nMMMMMMMM\nMMMMMMMM\nsssss M """


def _maps(text):
    grid = np.array([list(line.ljust(8)) for line in text.split("\n")])
    assert grid.shape == (8, 8)
    moves, still = (grid == "M").ravel(), (grid == "s").ravel()
    return still, moves, still | moves | (grid == ".").ravel()


def test_a_bar_or_panel_along_one_or_two_edges_is_an_edge_band_and_an_object_across_is_not():
    for text in (LOWER_BAR, SIDE_PANEL):
        assert edge_band(_maps(text)[0], 8)
    # a bar along the bottom and a panel down the left (a news L-bar, a dashboard and a pillar)
    l_bar = np.zeros((8, 8), bool)
    l_bar[6:, :] = l_bar[:, :2] = True
    assert edge_band(l_bar.ravel(), 8)
    assert not edge_band(_maps(OBJECT_ACROSS)[0], 8)  # still above, below and beside it
    # three still cells away from the band are more than chance: no band
    bar = _maps(LOWER_BAR)[0].reshape(8, 8).copy()
    bar[0, 3] = bar[1, 4] = bar[2, 4] = True
    assert not edge_band(bar.ravel(), 8)
    assert edge_band(np.zeros(64, bool), 8)  # nothing still: nothing holds a pan


def test_the_ring_holds_in_all_three_maps_so_only_the_band_tells_them_apart():
    """Under a sparse pan the bar holds more of the textured ring than the pan moves, as the
    object's fixed view does: the ring rule alone would call all three static."""
    for text in (LOWER_BAR, SIDE_PANEL, OBJECT_ACROSS):
        assert still_ring(*_maps(text), 8)

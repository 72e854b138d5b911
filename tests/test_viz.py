"""Pictures: grids are laid out as asked, montages caption and tile existing pictures."""
import torch
from PIL import Image

from genzoo.viz.grid import grid_array, save_grid, save_montage


def test_grid_layout_and_values():
    x = torch.zeros(6, 1, 4, 4)
    x[5] = 1.0
    arr = grid_array(x, nrow=3, padding=1)
    assert arr.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    assert arr[6:10, 11:15].min() == 255 and arr[1:5, 1:5].max() == 0  # the last image is white, the first black


def test_montage_tiles_captioned_panels(tmp_path):
    a = save_grid(torch.rand(4, 1, 8, 8), tmp_path / "a.png")
    b = save_grid(torch.rand(9, 3, 8, 8), tmp_path / "b.png")
    out = save_montage([("a", a), ("b", b), ("a again", a)], tmp_path / "m.png", ncol=2, width=100)
    with Image.open(out) as im:
        assert im.size[0] == 2 * (100 + 6) + 6 and im.mode == "RGB"
        assert im.size[1] > 2 * 100  # two rows of square panels with captions

"""PNG rendering of fingerprints."""

import numpy as np
import pytest

from aiida_crystalface.core.render import save_fingerprint_grid, save_fingerprint_png

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def test_single_and_grid(tmp_path):
    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    single = save_fingerprint_png(image, tmp_path / 'one.png', title='fcc')
    grid = save_fingerprint_grid([image, image[::-1]], ['a', 'b'], tmp_path / 'grid.png')
    for path in (single, grid):
        assert path.read_bytes()[:8] == PNG_SIGNATURE

    import matplotlib.image

    assert matplotlib.image.imread(grid).shape[1] > matplotlib.image.imread(single).shape[1]


def test_bad_images(tmp_path):
    with pytest.raises(ValueError, match='2-D'):
        save_fingerprint_png(np.zeros(5), tmp_path / 'x.png')
    with pytest.raises(ValueError, match='NaN'):
        save_fingerprint_png(np.full((4, 4), np.nan), tmp_path / 'x.png')
    with pytest.raises(ValueError, match='2 titles for 1 images'):
        save_fingerprint_grid([np.zeros((4, 4))], ['a', 'b'], tmp_path / 'x.png')

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

    one = save_fingerprint_grid([image], ['a'], tmp_path / 'grid1.png')
    assert matplotlib.image.imread(grid).shape[1] > matplotlib.image.imread(one).shape[1]
    # the single figure has axes, a colour bar and (with settings) a caption: larger than a grid panel
    assert matplotlib.image.imread(single).shape[0] > matplotlib.image.imread(one).shape[0]


def test_single_with_settings_has_q_axes_and_caption(tmp_path):
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.core.render import detector_extent, fingerprint_caption

    settings = FingerprintSettings()
    left, right, bottom, top = detector_extent(settings)
    # 32 pixels of 0.4 mm at 0.1 m, wavelength 5 pm: |H| = sin(atan(0.128)) / 0.05 angstrom = 2.54 per angstrom
    assert right == pytest.approx(2.539, abs=1e-3) and left == -right and bottom == right and top == -right
    caption = fingerprint_caption(settings)
    assert '64 x 64 px' in caption and 'masked' in caption
    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    path = save_fingerprint_png(image, tmp_path / 'q.png', title='fcc', settings=settings.to_dict())
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_bad_images(tmp_path):
    with pytest.raises(ValueError, match='2-D'):
        save_fingerprint_png(np.zeros(5), tmp_path / 'x.png')
    with pytest.raises(ValueError, match='NaN'):
        save_fingerprint_png(np.full((4, 4), np.nan), tmp_path / 'x.png')
    with pytest.raises(ValueError, match='2 titles for 1 images'):
        save_fingerprint_grid([np.zeros((4, 4))], ['a', 'b'], tmp_path / 'x.png')


def test_grid_draws_a_three_channel_fingerprint_in_colour(tmp_path):
    """The any-lattice fingerprint (3, H, W): its channels as red, green and blue; a wrong shape is refused."""
    import matplotlib.image

    image = np.zeros((3, 64, 64), dtype=np.float32)
    image[0, 10:20, 10:20] = 1.0  # a red square only
    path = save_fingerprint_grid([image], None, tmp_path / 'rgb.png')
    picture = matplotlib.image.imread(path)[..., :3]
    red = (picture[..., 0] > 0.9) & (picture[..., 1] < 0.1) & (picture[..., 2] < 0.1)
    assert red.sum() > 50
    with pytest.raises(ValueError, match='2-D'):
        save_fingerprint_grid([np.zeros((2, 64, 64))], None, tmp_path / 'bad.png')

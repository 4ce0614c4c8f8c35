"""The fingerprint: physical invariances, size independence, class separation, agreement with the float64 reference."""

import numpy as np
import pytest

from aiida_crystalface.core.cluster import Cluster, build_cluster, replicate, standard_cell
from aiida_crystalface.core.diffraction import (
    FingerprintSettings,
    fingerprint,
    fingerprint_batch,
    fingerprint_clusters,
    fingerprints,
)
from aiida_crystalface.core.reference import reference_fingerprint
from aiida_crystalface.core.structures import AtomicStructure, StructureError

from .conftest import prototype

SETTINGS = FingerprintSettings()


def similarity(a, b):
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def peaks(image, threshold=0.25):
    """Pixels that are local maxima above ``threshold`` of the brightest."""
    padded = np.pad(image, 1)
    neighbours = np.stack([np.roll(np.roll(padded, i, 0), j, 1) for i in (-1, 0, 1) for j in (-1, 0, 1) if i or j])
    local = (padded >= neighbours.max(axis=0))[1:-1, 1:-1]
    return {tuple(p) for p in np.argwhere(local & (image > threshold))}


def test_output_contract(prototypes):
    image = fingerprint(prototypes['fcc'])
    assert image.dtype == np.float32 and image.shape == (64, 64)
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    radius = np.hypot(*np.meshgrid(np.arange(64) - 31.5, np.arange(64) - 31.5))
    assert np.all(image[(radius < SETTINGS.mask_inner) | (radius > SETTINGS.mask_outer)] == 0.0)


def test_invariant_under_permutation_and_translation(prototypes):
    structure = replicate(standard_cell(prototypes['diamond'])[0], 16)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(structure))
    shifted = structure.replace(
        positions=structure.positions[order] + [0.37, -1.21, 2.05], numbers=structure.numbers[order]
    )
    # The defective-looking supercell path (no standardisation) keeps the orientation: both go through it.
    settings = FingerprintSettings(orientation='none')
    a, b = fingerprint(structure, settings), fingerprint(shifted, settings)
    assert np.abs(a - b).max() < 1e-5


@pytest.mark.parametrize('kind', ['fcc', 'bcc', 'sc', 'diamond'])
def test_peak_positions_independent_of_cluster_size(kind):
    structure = prototype(kind)
    images = {n: fingerprint(structure, FingerprintSettings(target_atoms=n)) for n in (32, 128, 1024)}
    reference = peaks(images[1024], 0.25)
    assert len(reference) >= 2
    for n in (32, 128):
        found = peaks(images[n], 0.05)
        # Every strong peak of the large cluster is within one pixel of a peak of the small one, and vice versa.
        near = lambda p, others: any(max(abs(p[0] - q[0]), abs(p[1] - q[1])) <= 1 for q in others)  # noqa: E731
        assert all(near(p, found) for p in reference), (n, sorted(reference), sorted(found))


def test_classes_differ_but_elements_do_not(prototypes):
    images = fingerprints(list(prototypes.values()))
    names = list(prototypes)
    for i in range(4):
        for j in range(i + 1, 4):
            assert similarity(images[i], images[j]) < 0.6, (names[i], names[j])
    copper = fingerprint(prototype('fcc', 'Cu', 3.61))
    aluminium = fingerprint(prototype('fcc', 'Al', 4.05))
    assert similarity(copper, aluminium) > 0.99
    assert np.abs(copper - aluminium).max() < 0.15  # form factors fall differently with |q|: a few per cent


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_kernel_matches_float64_reference_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    positions = rng.normal(scale=2.5, size=(n, 3))
    numbers = rng.choice([1, 8, 29, 79, 92], size=n)
    settings = FingerprintSettings(
        gamma=float(rng.choice([1.5, 2.0, 1.2])),
        rotation_deg=float(rng.uniform(0, 90)),
        mask_inner=float(rng.uniform(0, 6)),
    )
    cluster = Cluster(positions, numbers, 1.0, None, (1, 1, 1))
    image = fingerprint_clusters([cluster], settings)[0]
    reference = reference_fingerprint(positions, numbers, settings)
    assert np.abs(image - reference).max() / reference.max() < 1e-4


def test_batch_matches_single(prototypes):
    structures = list(prototypes.values())
    batch = fingerprints(structures)
    for structure, image in zip(structures, batch, strict=True):
        assert np.array_equal(image, fingerprint(structure))


def test_batch_keeps_going_past_bad_structures(prototypes):
    bad = AtomicStructure(np.eye(3) * 3, [[0, 0, 0], [0, 0, 0.01]], [29, 29], 'broken.cif')
    structures = [prototypes['fcc'], bad, prototypes['bcc'], 'not a structure']
    result = fingerprint_batch(structures)
    assert result.ok == [0, 2]
    assert result.images.shape == (2, 64, 64)
    assert set(result.errors) == {1, 3}
    assert 'broken.cif' in result.errors[1] and 'overlap' in result.errors[1]
    with pytest.raises(StructureError, match=r'structure 1: broken\.cif: atoms 0 and 1 overlap'):
        fingerprints(structures)


def test_settings_hash_and_roundtrip():
    settings = FingerprintSettings()
    assert len(settings.hash) == 16 and int(settings.hash, 16) >= 0
    assert FingerprintSettings.from_dict(settings.to_dict()) == settings
    assert FingerprintSettings.from_dict(settings.to_dict()).hash == settings.hash
    assert FingerprintSettings(gamma=2.0).hash != settings.hash
    assert hash(settings) == hash(FingerprintSettings())
    with pytest.raises(ValueError, match='unknown setting'):
        FingerprintSettings.from_dict({'gama': 2})
    with pytest.raises(ValueError, match='mask_inner < mask_outer'):
        FingerprintSettings(mask_inner=40.0)
    with pytest.raises(ValueError, match='wavelength'):
        FingerprintSettings(wavelength=-1.0)


def test_paper_defaults():
    settings = FingerprintSettings()
    assert (settings.wavelength, settings.pixels, settings.pixel_size, settings.distance) == (5e-12, 64, 4e-4, 0.1)
    assert settings.gamma == 1.5 and settings.solid_angle and settings.target_atoms == 128
    assert settings.rotation_axis == 'y' and settings.rotation_deg == 45.0


def test_cluster_reused(prototypes):
    cluster = build_cluster(prototypes['sc'])
    assert np.array_equal(fingerprint_clusters([cluster])[0], fingerprint(prototypes['sc']))


def test_pipelined_batch_matches_one_by_one(monkeypatch):
    """Images are computed in a second thread, chunk by chunk: order, errors and values must not depend on chunking."""
    from aiida_crystalface.core import diffraction

    bad = AtomicStructure(np.eye(3) * 4.0, [[0, 0, 0], [0.02, 0, 0]], [29, 29], label='overlapping')
    structures = [prototype(kind) for kind in ('fcc', 'bcc', 'diamond', 'sc', 'fcc')]
    structures.insert(2, bad)
    structures.append(bad)
    single = np.stack([fingerprint(s) for s in structures if s is not bad])
    for chunk in (1, 2, 3, 1000):
        monkeypatch.setattr(diffraction, 'PIPELINE_CHUNK', chunk)
        result = fingerprint_batch(structures)
        assert result.ok == [0, 1, 3, 4, 5] and set(result.errors) == {2, 6}
        assert 'overlapping' in result.errors[2]
        np.testing.assert_array_equal(result.images, single)
        assert len(result.lattices) == len(result.ok)

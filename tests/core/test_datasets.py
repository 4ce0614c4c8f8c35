"""Dataset builders: exact counts per variant, metadata, seeds, images equal to fingerprint(), rebuild from a file."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from aiida_crystalface.core.datasets import (
    LINDEMANN_LEVELS,
    PAPER_VARIANTS,
    TRANSITION_LEVELS,
    DatasetError,
    _derived_seed,
    build_defective_dataset,
    build_lindemann_dataset,
    build_pristine_dataset,
    build_transition_dataset,
    distinct_images,
    open_dataset,
    replicated_cell,
)
from aiida_crystalface.core.defects import displacements
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint
from aiida_crystalface.core.prototypes import CLASSES, SPACEGROUPS, pristine_items

SPECIES = ['Cu', 'Fe']
OPTIONS = {'targets': (32, 64), 'representations': ('primitive', 'conventional')}


@pytest.fixture(scope='module')
def pristine_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('data') / 'pristine.h5'
    summary = build_pristine_dataset(path, seed=3, species=SPECIES, progress=False, **OPTIONS)
    return path, summary


@pytest.fixture(scope='module')
def defective_file(tmp_path_factory, pristine_file):
    path = tmp_path_factory.mktemp('data') / 'defective.h5'
    summary = build_defective_dataset(pristine_file[0], path, seed=5, progress=False)
    return path, summary


def test_pristine_counts_labels_and_metadata(pristine_file):
    path, summary = pristine_file
    n = len(SPECIES) * len(CLASSES) * 2 * 2
    assert summary['n_items'] == n and summary['n_errors'] == 0
    assert summary['counts_by_class'] == {c: n // 4 for c in CLASSES}
    with open_dataset(path) as dataset:
        meta = dataset.metadata
        assert dataset.classes == list(CLASSES)
        assert dataset.settings_hash == FingerprintSettings().hash == summary['settings_hash']
        assert [dataset.classes[i] for i in dataset.labels] == list(meta['label'])
        assert all(SPACEGROUPS[label] == sg for label, sg in zip(meta['label'], meta['spacegroup'], strict=True))
        assert set(meta['defect_kind']) == {'pristine'}
        assert meta['source'][0].startswith(f'prototype:{meta["label"][0]}:{meta["species"][0]}:a=')
        assert json.loads(dataset.description)['seed'] == 3
        images = dataset.get_images()
    assert images.shape == (n, 64, 64) and 0 <= images.min() and images.max() <= 1


def test_pristine_images_are_what_fingerprint_gives(pristine_file):
    """The builder's path (standard cell -> replicate -> scatter as given) equals the user's fingerprint()."""
    path, _ = pristine_file
    items = pristine_items(SPECIES, seed=3, **OPTIONS)
    with open_dataset(path) as dataset:
        for index in (0, 5, 11, len(items) - 1):
            item = items[index]
            assert dataset.metadata['source'][index] == item.info['source']
            settings = dataclasses.replace(FingerprintSettings(), target_atoms=item.info['target_atoms'])
            expected = fingerprint(item, settings).astype(np.float16).astype(np.float32)
            assert np.allclose(dataset[index][0], expected, atol=2e-3)


def test_defective_counts_per_variant_are_exact(pristine_file, defective_file):
    _, pristine = pristine_file
    path, summary = defective_file
    n_pristine = pristine['n_items']
    assert summary['n_items'] == 13 * n_pristine and summary['n_errors'] == 0
    assert summary['counts_by_variant'] == {f'{kind}={level:g}': n_pristine for kind, level in PAPER_VARIANTS}
    with open_dataset(path) as dataset:
        meta = dataset.metadata
        assert dataset.settings_hash == pristine['settings_hash']
        # Every pristine item appears once per variant, with its pristine label and spacegroup.
        assert np.array_equal(np.bincount(meta['pristine_index']), np.full(n_pristine, 13))
        with open_dataset(pristine_file[0]) as source:
            assert np.array_equal(dataset.labels, source.labels[meta['pristine_index']])
            pristine_atoms = source.metadata['n_atoms'][meta['pristine_index']]
        vacancies = meta['defect_kind'] == 'vacancies'
        removed = np.floor(meta['defect_level'] * pristine_atoms + 0.5)
        assert np.array_equal(meta['n_atoms'][vacancies], (pristine_atoms - removed)[vacancies])
        assert np.array_equal(meta['n_atoms'][~vacancies], pristine_atoms[~vacancies])
        substituted = np.isin(meta['defect_kind'], ['binary', 'ternary'])
        assert all(len(s.split(',')) in (1, 2) for s in meta['substituents'][substituted])
        assert not any(meta['substituents'][~substituted])


def test_defective_seeds_are_stored_and_reproducible(pristine_file, defective_file, tmp_path):
    path, _ = defective_file
    again = tmp_path / 'again.h5'
    build_defective_dataset(pristine_file[0], again, seed=5, progress=False)
    other = tmp_path / 'other.h5'
    build_defective_dataset(pristine_file[0], other, seed=6, progress=False, variants=[('vacancies', 0.3)])
    with open_dataset(path) as first, open_dataset(again) as second, open_dataset(other) as third:
        assert np.array_equal(first.metadata['seed'], second.metadata['seed'])
        assert np.array_equal(first.get_images(), second.get_images())
        assert len(set(first.metadata['seed'])) == len(first)
        mask = (first.metadata['defect_kind'] == 'vacancies') & (first.metadata['defect_level'] == 0.3)
        assert not np.array_equal(first.get_images(np.flatnonzero(mask)), third.get_images())


def test_defective_from_items_and_from_file_agree(pristine_file, defective_file, tmp_path):
    items = pristine_items(['Fe'], seed=3, **OPTIONS)
    path = tmp_path / 'fe.h5'
    build_defective_dataset(pristine_file[0], path, seed=5, species=['Fe'], progress=False)
    direct = tmp_path / 'fe-items.h5'
    build_defective_dataset(items, direct, seed=5, progress=False)
    with open_dataset(path) as a, open_dataset(direct) as b:
        assert list(a.metadata['source']) == list(b.metadata['source'])
        # The pristine indices differ (position in the file vs in the list), hence the seeds; the sources agree.
        assert len(a) == len(items) * 13


def test_transition_series(tmp_path):
    path = tmp_path / 'transition.h5'
    summary = build_transition_dataset(None, path, seed=1, species=['Fe', 'W', 'Mo'], n_structures=2, samples=3)
    assert summary['n_pristine'] == 2 and summary['n_items'] == 2 * 3 * len(TRANSITION_LEVELS)
    assert summary['counts_by_variant'] == {f'bcc_to_sc={level:g}': 6 for level in TRANSITION_LEVELS}
    with open_dataset(path) as dataset:
        meta = dataset.metadata
        assert set(meta['label']) == {'bcc'} and set(meta['target_atoms']) == {128}
        full = meta['n_atoms'][meta['defect_level'] == 0]
        none = meta['n_atoms'][meta['defect_level'] == 1]
        assert np.array_equal(none * 2, full)


def test_lindemann_series(tmp_path):
    path = tmp_path / 'lindemann.h5'
    summary = build_lindemann_dataset(
        None, path, seed=1, species=['Fe', 'W'], n_structures=1, samples=2, progress=False
    )
    assert summary['counts_by_variant'] == {f'lindemann={level:g}': 2 for level in LINDEMANN_LEVELS}
    with open_dataset(path) as dataset:
        images = dataset.get_images()
        levels = dataset.metadata['defect_level']
    # Zero disorder gives the pristine image both times; strong disorder changes it.
    zero = images[levels == 0]
    assert np.array_equal(zero[0], zero[1])
    assert np.abs(images[levels == 0.4][0] - zero[0]).max() > 0.1


def test_distinct_images_counts_near_duplicates(pristine_file):
    path, _ = pristine_file
    with open_dataset(path) as dataset:
        images, meta = dataset.get_images(), dataset.metadata
    keys = [f'{a}:{b}' for a, b in zip(meta['label'], meta['target_atoms'], strict=True)]
    # Lattice constant and representation do not change the image (scale- and cell-invariance of the fingerprint):
    # only species x class x size are distinct.
    assert distinct_images(images, keys, atol=1e-2) == len(SPECIES) * len(CLASSES) * 2
    assert distinct_images(images) >= distinct_images(images, keys, atol=1e-2)


def test_bad_inputs_raise_clear_errors(pristine_file, defective_file, tmp_path):
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        build_pristine_dataset(pristine_file[0], species=['Cu'], progress=False)
    with pytest.raises(DatasetError, match='not a pristine dataset'):
        build_defective_dataset(defective_file[0], tmp_path / 'x.h5', progress=False)
    with pytest.raises(ValueError, match='unknown defect kind'):
        build_defective_dataset(pristine_file[0], tmp_path / 'y.h5', variants=[('melted', 0.1)], progress=False)
    with pytest.raises(ValueError, match=r'fraction must lie in \[0, 1\)'):
        build_defective_dataset(pristine_file[0], tmp_path / 'z.h5', variants=[('vacancies', 1.2)], progress=False)
    with pytest.raises(DatasetError, match='no bcc pristine items'):
        build_transition_dataset(pristine_file[0], tmp_path / 't.h5', target_atoms=500, progress=False)
    assert not list(tmp_path.glob('*.h5')) and not list(tmp_path.glob('*.partial'))


@pytest.mark.slow
def test_full_paper_sets(tmp_path):
    pristine = build_pristine_dataset(tmp_path / 'pristine.h5', progress=False)
    assert pristine['n_items'] >= 6000 and pristine['n_errors'] == 0
    defective = build_defective_dataset(tmp_path / 'pristine.h5', tmp_path / 'defective.h5', progress=False)
    assert defective['n_items'] == 13 * pristine['n_items'] and defective['n_errors'] == 0


def test_overlapping_displacements_are_redrawn_so_counts_stay_exact(tmp_path):
    """Hydrogen (0.5 angstrom apart) at sigma 0.3 angstrom overlaps often: every item must still be there."""
    path = tmp_path / 'h.h5'
    items = pristine_items(['H'], seed=0, targets=(128,), representations=('conventional',))
    summary = build_defective_dataset(items, path, seed=0, variants=[('displacements', 0.3)], progress=False)
    assert summary['n_items'] == len(items) and summary['n_errors'] == 0
    with open_dataset(path) as dataset:
        seeds = dataset.metadata['seed']
    first_draws = [_derived_seed(0, item.info['index'], 0, 0) for item in items]
    assert any(s != f for s, f in zip(seeds, first_draws, strict=True))  # some were redrawn, and the seed says so
    for item, seed in zip(items, seeds, strict=True):
        displacements(replicated_cell(item), 0.3, int(seed)).validate()

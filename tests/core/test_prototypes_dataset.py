"""The prototypes dataset (build_prototypes_dataset): labels, 'other' for outsiders, metadata, images, refusals."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

pytest.importorskip('pyxtal', reason='the outsiders of the bulk set include pyxtal random crystals')

from aiida_crystalface.core import bulkset
from aiida_crystalface.core.datasets import OTHER, PROTOTYPE_FIELDS, build_prototypes_dataset, open_dataset
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint

STANDARD = FingerprintSettings(orientation='standard', channels=3)
OPTIONS = {
    'classes': ['hcp', 'rocksalt'],
    'draws': 1,
    'species_per_class': 1,
    'variants': ['pristine', 'vacancies 25 %'],
}


def _with_one_outsider(real):
    """bulk_items without the (slow) outsider prototypes, plus one pyxtal outsider labelled as bulk_items does."""

    def items(part, seed=0, **options):
        from aiida_crystalface.core.openset import random_crystal

        members = real(part, seed, **{**options, 'outsiders': False})
        crystal = random_crystal(20000)
        crystal.info.update(label='unknown', variant='pristine')
        return [*members, crystal]

    return items


@pytest.fixture(scope='module')
def prototypes_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('data') / 'prototypes.h5'
    real = bulkset.bulk_items
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulkset, 'bulk_items', _with_one_outsider(real))
        summary = build_prototypes_dataset(path, part='train', seed=0, progress=False, **OPTIONS)
    return path, summary


def test_labels_and_other(prototypes_file):
    path, summary = prototypes_file
    with open_dataset(path) as dataset:
        assert dataset.classes == ['hcp', 'rocksalt', OTHER]
        meta = dataset.metadata
        assert sorted(meta) == sorted(PROTOTYPE_FIELDS)
        assert list(meta['label']) == ['hcp', 'hcp', 'rocksalt', 'rocksalt', 'unknown']
        assert list(dataset.labels) == [0, 0, 1, 1, 2]  # 'unknown' -> the index of 'other'
        assert list(meta['kind']) == ['member'] * 4 + ['outsider']
        assert list(meta['index']) == [0, 1, 2, 3, 4]
        assert list(meta['variant']) == ['pristine', 'vacancies 25 %'] * 2 + ['pristine']
        assert meta['species'][0] and ',' in meta['species'][2] and meta['species'][4] == ''
        assert meta['aflow'][4] == '' and meta['space_group'][4] == 221 and meta['presentation'][4] == ''
        assert meta['lattice_found'].dtype == bool and set(meta['lattice_standard'][:2]) == {'hP'}
        description = json.loads(dataset.description)
        assert description['builder'] == 'prototypes' and description['parameters']['classes'] == OPTIONS['classes']
        assert dataset.summary()['counts'] == {'hcp': 2, 'rocksalt': 2, OTHER: 1}
    assert summary['n_items'] == 5 and summary['n_errors'] == 0
    assert summary['counts_by_class'] == {'hcp': 2, 'rocksalt': 2, OTHER: 1}
    assert summary['counts_by_kind'] == {'member': 4, 'outsider': 1}
    assert summary['image_shape'] == [3, 64, 64] and summary['settings_hash'] == STANDARD.hash


def test_images_are_what_fingerprint_gives_and_items_rebuild(prototypes_file):
    path, _ = prototypes_file
    with open_dataset(path) as dataset:
        assert dataset.image_shape == (3, 64, 64) and dataset.settings == STANDARD.to_dict()
        index = int(dataset.metadata['index'][2])
        parameters = json.loads(dataset.description)['parameters']
        item = bulkset.bulk_items('train', 0, **parameters)[index]  # the item, rebuilt from the file alone
        assert item.label == dataset.metadata['source'][2] and int(item.info['seed']) == dataset.metadata['seed'][2]
        np.testing.assert_allclose(dataset.get_images([2])[0], fingerprint(item, STANDARD), atol=1e-3)
    with h5py.File(path, 'r') as handle:
        assert handle.attrs['format_version'] == 2


def test_bad_inputs_fail_before_any_work(tmp_path, prototypes_file):
    path, _ = prototypes_file
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        build_prototypes_dataset(path, progress=False, **OPTIONS)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match='part must be one of'):
        build_prototypes_dataset(tmp_path / 'x.h5', part='validation', progress=False)
    with pytest.raises(ValueError, match='names of bulk classes'):
        build_prototypes_dataset(tmp_path / 'x.h5', classes=['hcp', 'no-such-class'], progress=False)
    with pytest.raises(ValueError, match='names of bulk classes'):
        build_prototypes_dataset(tmp_path / 'x.h5', classes=['hcp', 'hcp'], progress=False)
    with pytest.raises(ValueError, match='variants must be among'):
        build_prototypes_dataset(tmp_path / 'x.h5', variants=['ternary substitution 30 %'], progress=False)
    with pytest.raises(ValueError, match='draws must be at least 1'):
        build_prototypes_dataset(tmp_path / 'x.h5', draws=0, progress=False)
    assert not list(tmp_path.iterdir())

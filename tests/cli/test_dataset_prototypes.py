"""``dataset prototypes``: the bulk prototype set written by the library's builder (no profile needed)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root

SMALL = ['--classes', 'hcp,rocksalt', '--draws', '1', '--species-per-class', '1', '--variants', 'pristine']


@pytest.fixture(scope='module')
def prototypes_output(tmp_path_factory):
    path = tmp_path_factory.mktemp('dataset') / 'prototypes.h5'
    result = CliRunner().invoke(cmd_root, ['dataset', 'prototypes', '-o', str(path), *SMALL, '--no-outsiders'])
    assert result.exit_code == 0, result.output
    return path, result


def test_dataset_prototypes(prototypes_output):
    from aiida_crystalface.core.datasets import open_dataset

    path, result = prototypes_output
    assert 'np.' not in result.output and 'counts_by_class' in result.output
    assert f'Wrote 2 fingerprints to {path}.' in result.stderr
    with open_dataset(path) as dataset:
        assert dataset.classes == ['hcp', 'rocksalt', 'other']
        assert list(dataset.labels) == [0, 1] and list(dataset.metadata['label']) == ['hcp', 'rocksalt']
        assert dataset.image_shape == (3, 64, 64) and dataset.settings['channels'] == 3
    again = CliRunner().invoke(cmd_root, ['dataset', 'prototypes', '-o', str(path), *SMALL])
    assert again.exit_code != 0 and 'exists' in str(again.exception or again.output)


def test_options_reach_the_builder(monkeypatch, tmp_path):
    """The command only passes its options on (outsiders on unless --no-outsiders)."""
    from aiida_crystalface.core import datasets

    calls = []

    def fake(path, **options):
        calls.append((path, options))
        return {'n_items': 0}

    monkeypatch.setattr(datasets, 'build_prototypes_dataset', fake)
    out = tmp_path / 'p.h5'
    args = ['dataset', 'prototypes', '-o', str(out), '--part', 'test', '--seed', '4', '--parents', '--float32']
    result = CliRunner().invoke(cmd_root, [*args, '--classes', 'rocksalt,hcp,rocksalt'])
    assert result.exit_code == 0, result.output
    path, options = calls[-1]
    assert path == out
    assert options == {
        'part': 'test',
        'seed': 4,
        'classes': ['rocksalt', 'hcp'],
        'draws': 2,
        'species_per_class': None,
        'variants': None,
        'outsiders': True,
        'parents': True,
        'overwrite': False,
        'dtype': 'float32',
    }


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--classes', 'hcp,nosuch'], "'nosuch': no such bulk class"),
        (['--variants', 'ternary substitution 30 %'], 'no such variant'),
        (['--part', 'validation'], "'validation' is not one of"),
        (['--draws', '0'], '0 is not in the range'),
    ],
)
def test_bad_options(tmp_path, args, message):
    result = CliRunner().invoke(cmd_root, ['dataset', 'prototypes', '-o', str(tmp_path / 'x.h5'), *args])
    assert result.exit_code == 2 and message in result.output
    assert not list(tmp_path.iterdir())

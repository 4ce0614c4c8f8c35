"""``query``, ``models list`` and ``verdi data crystalface`` on results stored by ``classify``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root
from aiida_crystalface.cli.data import data_crystalface
from aiida_crystalface.provenance import query_predictions


@pytest.fixture
def stored(aiida_profile_clean, good_files, model_file):
    result = CliRunner().invoke(cmd_root, ['classify', '--json', '--model', str(model_file), *map(str, good_files)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_query_joins_each_prediction_to_its_own_structure(stored):
    from aiida import orm

    rows = query_predictions(limit=100)
    assert sorted(r['prediction_uuid'] for r in rows) == sorted(r['uuid'] for r in stored)
    for row in rows:
        structure = orm.load_node(row['structure_pk'])
        entry = next(r for r in stored if r['uuid'] == row['prediction_uuid'])
        assert structure.label == entry['file']  # the structure stored for exactly that input
        assert row['label'] == entry['label']
        assert row['probability'] == pytest.approx(max(entry['probabilities'].values()))


def test_query_filters(stored):
    label = stored[0]['label']
    expected = {r['uuid'] for r in stored if r['label'] == label}
    assert {r['prediction_uuid'] for r in query_predictions(label=label)} == expected
    top = max(max(r['probabilities'].values()) for r in stored)
    assert len(query_predictions(min_probability=np.nextafter(top, 1.0))) == 0
    assert len(query_predictions(min_probability=top)) >= 1
    result = CliRunner().invoke(cmd_root, ['query', '--label', label, '--min-probability', '0'])
    assert result.exit_code == 0, result.output
    assert label in result.stdout and f'{len(expected)} prediction(s)' in result.stderr


def test_models_list_and_verdi_data(stored, tmp_path):
    from aiida import orm

    from aiida_crystalface.data.model import ConvNetModelData

    result = CliRunner().invoke(cmd_root, ['models', 'list'])
    assert result.exit_code == 0, result.output
    model = orm.QueryBuilder().append(ConvNetModelData).one()[0]
    assert str(model.pk) in result.stdout
    listing = CliRunner().invoke(data_crystalface, ['list'])
    assert listing.exit_code == 0, listing.output
    exported = tmp_path / 'model.safetensors'
    result = CliRunner().invoke(data_crystalface, ['export', str(model.pk), '-o', str(exported)])
    assert result.exit_code == 0, result.output
    with model.open(mode='rb') as handle:
        assert exported.read_bytes() == handle.read()


def test_query_table_shows_the_file_and_fits_80_columns(stored):
    result = CliRunner().invoke(cmd_root, ['query'], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    assert 'Cu.cif' in result.stdout.replace('\n', '')  # the structure's source file (folded if it must)
    for entry in stored:
        assert entry['uuid'][:8] in result.stdout
    rows = json.loads(CliRunner().invoke(cmd_root, ['query', '--json']).stdout)
    assert sorted(r['prediction_uuid'] for r in rows) == sorted(r['uuid'] for r in stored)
    assert {r['structure_label'] for r in rows} == {r['file'] for r in stored}


def test_no_short_option_changes_meaning(stored):
    """-p is the root's --profile: no command reuses it."""
    result = CliRunner().invoke(cmd_root, ['query', '-p', '0.5'])
    assert result.exit_code == 2
    models = CliRunner().invoke(cmd_root, ['models', 'list'], terminal_width=80)
    assert models.exit_code == 0, models.output
    assert max(len(line) for line in models.stdout.splitlines()) <= 80, models.stdout
    listing = json.loads(CliRunner().invoke(cmd_root, ['models', 'list', '--json']).stdout)
    assert listing[0]['uuid'][:8] in models.stdout and listing[0]['predictions'] == len(stored)

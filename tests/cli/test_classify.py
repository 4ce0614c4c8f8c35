"""``aiida-crystalface classify``: the JSON contract, bad inputs, storing with provenance, and --no-store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root

from .conftest import assert_no_profile, check_contract, parse_json, run_subprocess


def test_no_store_json_subprocess(good_files, bad_files, model_file, fresh_aiida_path, tmp_path):
    """As a user runs it: one JSON list in input order, frames named file@i, exit 1, and no profile touched."""
    files = [good_files[0], *bad_files, *good_files[1:]]
    result = run_subprocess(['classify', '--no-store', '--json', '--model', model_file, *files], fresh_aiida_path)
    assert result.returncode == 1, result.stderr
    results = parse_json(result.stdout)
    trajectory = str(good_files[2])
    expected = [str(good_files[0]), *map(str, bad_files), str(good_files[1]), f'{trajectory}@0', f'{trajectory}@1']
    check_contract(results, expected, stored=False)
    by_file = {r['file']: r for r in results}
    for path, reason in bad_files.items():
        assert reason in by_file[str(path)]['error'], by_file[str(path)]
    assert all('label' in by_file[name] for name in expected if name not in map(str, bad_files))
    # --no-store needs no profile: none was created (aiida's logging set-up only writes an empty configuration)
    assert_no_profile(fresh_aiida_path)


def test_no_store_all_good_exit_zero(good_files, model_file, fresh_aiida_path):
    result = run_subprocess(['classify', '--no-store', '--json', '--model', model_file, *good_files], fresh_aiida_path)
    assert result.returncode == 0, result.stderr
    check_contract(
        parse_json(result.stdout),
        [str(good_files[0]), str(good_files[1]), f'{good_files[2]}@0', f'{good_files[2]}@1'],
        stored=False,
    )


@pytest.mark.usefixtures('aiida_profile_clean')
def test_store_mixed_inputs(good_files, bad_files, model_file):
    """Every good input is classified and stored with provenance; every bad one is reported with its reason."""
    from aiida import orm

    from aiida_crystalface.data.classification import ClassificationData
    from aiida_crystalface.data.fingerprint import FingerprintData
    from aiida_crystalface.data.model import ConvNetModelData
    from aiida_crystalface.provenance import prediction_provenance

    files = [*bad_files, *good_files]
    result = CliRunner().invoke(cmd_root, ['classify', '--json', '--model', str(model_file), *map(str, files)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    results = json.loads(result.stdout)
    expected = [
        *map(str, bad_files),
        str(good_files[0]),
        str(good_files[1]),
        f'{good_files[2]}@0',
        f'{good_files[2]}@1',
    ]
    check_contract(results, expected, stored=True)
    for path, reason in bad_files.items():
        error = next(r['error'] for r in results if r['file'] == str(path))
        assert reason in error
        assert f'Error: {path}' not in result.stdout  # messages never pollute the JSON on stdout
    good = [r for r in results if 'error' not in r]
    assert len(good) == 4
    atoms = {'Cu.cif': 4, 'POSCAR': 2, 'md.extxyz@0': 1, 'md.extxyz@1': 8}
    for entry in good:
        prediction = orm.load_node(entry['uuid'])
        assert isinstance(prediction, ClassificationData)
        assert prediction.predicted_class == entry['label']
        assert prediction.probabilities == pytest.approx(entry['probabilities'])
        # exact links: the prediction's own fingerprint, the structure stored for exactly this input, the model
        origin = prediction_provenance(prediction)
        assert isinstance(origin['fingerprint'], FingerprintData)
        assert isinstance(origin['model'], ConvNetModelData)
        assert origin['structure'].label == entry['file']
        assert len(origin['structure'].sites) == atoms[entry['file'].rsplit('/', 1)[-1]]
    assert orm.QueryBuilder().append(ClassificationData).count() == 4
    assert orm.QueryBuilder().append(ConvNetModelData).count() == 1


@pytest.mark.usefixtures('aiida_profile_clean')
def test_no_store_writes_nothing_to_the_profile(good_files, model_file):
    from aiida import orm

    before = orm.QueryBuilder().append(orm.Node).count()
    args = ['classify', '--no-store', '--model', str(model_file), str(good_files[0])]
    table = CliRunner().invoke(cmd_root, args)
    assert table.exit_code == 0, table.output
    assert 'Classification' in table.stdout
    result = CliRunner().invoke(cmd_root, [*args, '--json'])
    check_contract(json.loads(result.stdout), [str(good_files[0])], stored=False)
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_bad_model_argument(good_files, fresh_aiida_path):
    result = run_subprocess(['classify', '--no-store', '--model', 'no-such-model', good_files[0]], fresh_aiida_path)
    assert result.returncode == 2
    assert 'no-such-model' in result.stderr and 'model file' in result.stderr


def test_store_subprocess_on_a_fresh_machine(good_files, bad_files, model_file, fresh_aiida_path):
    """As a newcomer runs it: the profile is created, good inputs are stored, bad ones reported, exit status 1."""
    files = [good_files[0], next(iter(bad_files))]
    result = run_subprocess(['classify', '--json', '--model', model_file, *files], fresh_aiida_path)
    assert result.returncode == 1, result.stderr
    assert 'Created the SQLite AiiDA profile' in result.stderr
    results = parse_json(result.stdout)
    check_contract(results, [str(f) for f in files], stored=True)
    uuid = results[0]['uuid']
    check = run_subprocess(['query', '--min-probability', '0'], fresh_aiida_path)
    assert check.returncode == 0 and uuid[:8] in check.stdout, check.stdout

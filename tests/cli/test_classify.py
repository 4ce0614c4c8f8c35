"""``aiida-crystalface classify``: the JSON contract, bad inputs, storing with provenance, and --no-store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert 'np.' not in result.stdout + result.stderr  # plain numbers, never numpy reprs


def test_unreadable_file_message_names_file_readers_and_remedy(tmp_path, fresh_aiida_path):
    garbage = tmp_path / 'garbage.txt'
    garbage.write_text('hello\n')
    result = run_subprocess(['classify', '--no-store', '--json', garbage], fresh_aiida_path)
    assert result.returncode == 1
    (entry,) = parse_json(result.stdout)
    message = entry['error']
    assert entry['file'] == str(garbage) and 'ASE' in message and 'pymatgen' in message and "'.txt'" in message
    assert 'Check that it is a structure file' in message
    assert f'Error: {garbage}: ' in result.stderr and '1 failed' in result.stderr


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
    assert 'Report:' not in result.stderr  # the WorkChain's reports stay off the terminal: one summary instead
    assert f'4 of {len(results)} input(s) classified' in result.stderr


@pytest.mark.usefixtures('aiida_profile_clean')
def test_no_store_writes_nothing_to_the_profile(good_files, model_file):
    from aiida import orm

    before = orm.QueryBuilder().append(orm.Node).count()
    args = ['classify', '--no-store', '--model', str(model_file), str(good_files[0])]
    table = CliRunner().invoke(cmd_root, args)
    assert table.exit_code == 0, table.output
    assert 'label' in table.stdout and 'prediction' not in table.stdout  # no prediction node without a profile
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
    # the WorkChain's reports were kept off the terminal but stored: `verdi process report` shows them; so too on the
    # profile that exists now (whose storage is loaded, and logging configured anew, only once the work starts)
    again = run_subprocess(['classify', '--force', '--model', model_file, good_files[0]], fresh_aiida_path)
    assert again.returncode == 0, again.stderr
    assert 'Report:' not in result.stderr + again.stderr and not again.stderr.startswith('\n')
    pk = result.stderr.split('ClassifyStructuresWorkChain<', 1)[1].split('>', 1)[0]
    verdi = str(Path(sys.executable).with_name('verdi'))
    env = dict(os.environ, AIIDA_PATH=str(fresh_aiida_path))
    report = subprocess.run([verdi, 'process', 'report', pk], capture_output=True, text=True, env=env, check=False)
    assert 'classified' in report.stdout, report.stdout + report.stderr


@pytest.mark.usefixtures('aiida_profile_clean')
def test_second_classify_of_the_same_file_stores_nothing_new(good_files, model_file):
    """The same file again (and the same structure under another name): the stored prediction is reported, nothing is
    stored; --force classifies and stores it anew."""
    import shutil

    from aiida import orm

    args = ['classify', '--json', '--model', str(model_file)]
    first = CliRunner().invoke(cmd_root, [*args, str(good_files[0])])
    assert first.exit_code == 0, first.output
    before = orm.QueryBuilder().append(orm.Node).count()
    renamed = good_files[0].with_name('copper-again.cif')
    shutil.copy(good_files[0], renamed)
    second = CliRunner().invoke(cmd_root, [*args, str(good_files[0]), str(renamed)])
    assert second.exit_code == 0, second.output
    assert orm.QueryBuilder().append(orm.Node).count() == before  # nothing new: no structure, process or prediction
    results = json.loads(second.stdout)
    check_contract(results, [str(good_files[0]), str(renamed)])
    assert {r['uuid'] for r in results} == {json.loads(first.stdout)[0]['uuid']}
    assert '2 found already' in second.stderr
    forced = CliRunner().invoke(cmd_root, [*args, '--force', str(good_files[0])])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)[0]['uuid'] != results[0]['uuid']
    assert orm.QueryBuilder().append(orm.StructureData).count() == 2


@pytest.mark.usefixtures('aiida_profile_clean')
def test_table_fits_80_columns_and_never_cuts_an_id(good_files, model_file):
    """At 80 columns (as when piped) no line is longer, and each prediction's short id is whole on its line; --wide
    shows the full UUIDs, unbroken."""
    args = ['classify', '--model', str(model_file), *map(str, good_files)]
    stored = CliRunner().invoke(cmd_root, [*args, '--json'])
    uuids = [r['uuid'] for r in json.loads(stored.stdout)]
    table = CliRunner().invoke(cmd_root, args, terminal_width=80)
    assert table.exit_code == 0, table.output
    assert max(len(line) for line in table.stdout.splitlines()) <= 80, table.stdout
    for uuid in uuids:
        assert uuid[:8] in table.stdout
    wide = CliRunner().invoke(cmd_root, [*args, '--wide'])
    for uuid in uuids:
        assert uuid in wide.stdout
    assert 'found' in table.stdout and 'new' not in table.stdout.split('stored', 1)[1]


@pytest.mark.usefixtures('aiida_profile_clean')
def test_amorphous_is_an_answer_stored_once(amorphous_file, model_file):
    """A structure with no long-range order gets a classification node 'amorphous' (not a failure), stored once."""
    from aiida import orm

    from aiida_crystalface.data.classification import ClassificationData

    args = ['classify', '--json', '--model', str(model_file), str(amorphous_file)]
    first = CliRunner().invoke(cmd_root, args)
    second = CliRunner().invoke(cmd_root, args)
    assert first.exit_code == second.exit_code == 0, first.output
    [answer] = json.loads(second.stdout)
    assert answer['label'] == 'amorphous' and answer['uncertainty'] == 0.0
    assert orm.QueryBuilder().append(orm.StructureData).count() == 1
    query = orm.QueryBuilder().append(ClassificationData, filters={'attributes.predicted_class': 'amorphous'})
    assert query.count() == 1


def test_no_store_amorphous(amorphous_file, model_file, fresh_aiida_path):
    result = run_subprocess(['classify', '--no-store', '--json', '--model', model_file, amorphous_file],
                            fresh_aiida_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [answer] = parse_json(result.stdout)
    assert answer['label'] == 'amorphous'
    check_contract([answer], [str(amorphous_file)], stored=False)


def test_table_shows_uncertainty_and_sets_no_class_answers_apart(capsys):
    """Answers with an uncertainty get a "unc." column; "unknown" (no class) prints without a probability."""
    from rich.console import Console

    from aiida_crystalface.cli.classify import _print_table
    from aiida_crystalface.cli.utils import format_label

    probabilities = {'fcc': 0.4, 'diamond': 0.2, 'bcc': 0.2, 'sc': 0.2}
    uuid = '0123456789abcdef0123456789abcdef0123'
    results = [
        {'file': 'a.cif', 'label': 'unknown', 'probabilities': probabilities, 'uncertainty': 0.81, 'uuid': uuid},
        {'file': 'b.cif', 'label': 'fcc', 'probabilities': probabilities, 'uuid': None},
    ]
    _print_table(results, [False, True], wide=False, stored=True)
    out = capsys.readouterr().out
    assert 'unc.' in out and '0.810' in out and '01234567' in out and uuid not in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert rows['a.cif'][1:3] == ['unknown', '-'] and rows['b.cif'][1:4] == ['fcc', '0.400', '-']
    rendered = Console(force_terminal=True, color_system='standard')
    with rendered.capture() as capture:
        rendered.print(format_label('unknown'))
    assert '\x1b[' in capture.get() and format_label('fcc') == 'fcc'  # dim italic, class names plain


@pytest.mark.usefixtures('aiida_profile_clean')
def test_a_bundled_model_by_name(tmp_path):
    """``--model bulk-59``: a bundled model named, without a file; stored and unstored paths alike."""
    from aiida import orm
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / 'mg.xyz'
    write(path, bulk('Mg', 'hcp', a=3.21, c=5.21).repeat((4, 4, 4)), format='extxyz')
    for extra in (['--no-store'], []):
        result = CliRunner().invoke(cmd_root, ['classify', *extra, '--json', '--model', 'bulk-59', str(path)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[0]['label'] == 'hcp'
    from aiida_crystalface.data.model import ConvNetModelData

    stored = orm.QueryBuilder().append(ConvNetModelData).all(flat=True)
    assert len(stored) == 1 and 'hcp' in stored[0].classes


@pytest.mark.usefixtures('aiida_profile_clean')
def test_int8_precision_is_recorded_and_reused_only_at_that_precision(tmp_path):
    """``--precision int8`` with ``bulk-59`` (its file stores the int8 parameters): the same answer as float32, in
    memory and stored; the predict call records the precision as an input; a float32 run does not reuse the int8
    prediction, an int8 run does. A model without int8 parameters is refused before anything is stored."""
    from aiida import orm
    from ase.build import bulk
    from ase.io import write

    from aiida_crystalface.calculations.functions.predict import predict

    path = tmp_path / 'mg.xyz'
    write(path, bulk('Mg', 'hcp', a=3.21, c=5.21).repeat((4, 4, 4)), format='extxyz')
    args = ['classify', '--json', '--model', 'bulk-59', str(path)]
    memory = CliRunner().invoke(cmd_root, [*args, '--no-store', '--precision', 'int8'])
    assert memory.exit_code == 0, memory.output
    assert json.loads(memory.stdout)[0]['label'] == 'hcp'
    first = CliRunner().invoke(cmd_root, [*args, '--precision', 'int8'])
    assert first.exit_code == 0, first.output
    [answer] = json.loads(first.stdout)
    assert answer['label'] == 'hcp'
    prediction = orm.load_node(answer['uuid'])
    calc = prediction.creator
    assert calc.process_label == predict.__name__
    assert calc.inputs.precision.value == 'int8'
    again = CliRunner().invoke(cmd_root, [*args, '--precision', 'int8'])
    assert json.loads(again.stdout)[0]['uuid'] == answer['uuid'] and '1 found already' in again.stderr
    exact = CliRunner().invoke(cmd_root, args)
    assert exact.exit_code == 0, exact.output
    [float32] = json.loads(exact.stdout)
    assert float32['label'] == 'hcp' and float32['uuid'] != answer['uuid']
    assert 'precision' not in orm.load_node(float32['uuid']).creator.inputs
    assert orm.QueryBuilder().append(orm.StructureData).count() == 1  # the structure is stored once
    nodes = orm.QueryBuilder().append(orm.Node).count()
    refused = CliRunner().invoke(cmd_root, ['classify', '--precision', 'int8', '--model', 'open-4class', str(path)])
    assert refused.exit_code == 2 and 'stores no int8 parameters' in refused.output
    per_atom = CliRunner().invoke(cmd_root, ['classify', '--per-atom', '--precision', 'int8', str(path), '-o', 'x'])
    assert per_atom.exit_code == 2 and 'open-4class (the default per atom)' in per_atom.output
    assert orm.QueryBuilder().append(orm.Node).count() == nodes


@pytest.mark.usefixtures('aiida_profile_clean')
def test_int8_with_a_model_without_parameters_is_a_failed_workchain_with_its_exit_code(tmp_path):
    """The WorkChain called directly with ``precision='int8'`` and a model without int8 parameters (open-4class):
    exit code 204 naming the model, the process kept in the graph, no prediction made."""
    from aiida import orm
    from aiida.engine import run_get_node
    from ase.build import bulk

    from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain
    from aiida_crystalface.workflows.utils import bundled_model

    node = orm.StructureData(ase=bulk('Cu', 'fcc', a=3.6).repeat((3, 3, 3))).store()
    four = bundled_model('open-4class')
    _, process = run_get_node(
        ClassifyStructuresWorkChain, structures={'cu': node}, model=four, precision=orm.Str('int8')
    )
    assert process.exit_status == 204 and 'has none' in process.exit_message
    assert orm.load_node(process.pk).is_failed and not process.called
    with pytest.raises(ValueError, match='precision must be one of'):
        run_get_node(ClassifyStructuresWorkChain, structures={'cu': node}, precision=orm.Str('int4'))

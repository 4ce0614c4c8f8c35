"""``aiida-crystalface classify --per-atom``: the extxyz with per-atom columns, the counts in JSON, the stored nodes."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root


def _files(tmp_path):
    import ase.io
    from ase.build import bulk
    from ase.cluster import Octahedron

    particle, crystal, bad = tmp_path / 'particle.xyz', tmp_path / 'Fe.extxyz', tmp_path / 'bad.cif'
    ase.io.write(particle, Octahedron('Cu', 7))  # a free cluster: no cell
    ase.io.write(crystal, bulk('Fe', 'bcc', a=2.87, cubic=True) * (4, 4, 4))
    bad.write_text('not a structure\n')
    return particle, crystal, bad


def test_per_atom_no_store_writes_an_extxyz_that_ase_reads(tmp_path):
    import ase.io

    particle, crystal, bad = _files(tmp_path)
    output, picture = tmp_path / 'labels.extxyz', tmp_path / 'fractions.png'
    arguments = ['classify', '--per-atom', '--no-store', '--json', '-o', str(output), '--plot', str(picture)]
    result = CliRunner().invoke(cmd_root, [*arguments, str(particle), str(bad), str(crystal)])
    assert result.exit_code == 1, result.output  # the bad file fails alone
    records = json.loads(result.stdout)
    assert [r['file'] for r in records] == [str(particle), str(bad), str(crystal)]
    assert 'error' in records[1] and 'not a structure file' in records[1]['error']
    assert records[0]['counts'].get('fcc', 0) > 0.9 * records[0]['atoms']
    assert records[2]['counts'] == {'bcc': 128}
    frames = ase.io.read(output, index=':')
    assert [len(f) for f in frames] == [records[0]['atoms'], 128]
    for frame, record in zip(frames, [records[0], records[2]], strict=True):
        labels = frame.arrays['crystalface_label']
        values, counts = np.unique(labels, return_counts=True)
        assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == record['counts']
        assert np.all((frame.arrays['crystalface_p'] > 0) & (frame.arrays['crystalface_p'] <= 1))
        assert frame.arrays['crystalface_uncertainty'].shape == (len(frame),)
    assert picture.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_per_atom_stored_gives_one_node_per_structure(tmp_path, aiida_profile):
    from aiida import orm

    from aiida_crystalface.data import LocalClassificationData

    particle, crystal, _ = _files(tmp_path)
    before = orm.QueryBuilder().append(LocalClassificationData).count()
    result = CliRunner().invoke(cmd_root, ['classify', '--per-atom', '--json', str(particle), str(crystal)])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert orm.QueryBuilder().append(LocalClassificationData).count() == before + 2
    for record in records:
        node = orm.load_node(record['uuid'])
        assert isinstance(node, LocalClassificationData)
        assert node.n_atoms == record['atoms']
        assert {k: v for k, v in node.counts.items() if v} == record['counts']


def test_output_needs_per_atom(tmp_path):
    particle, _, _ = _files(tmp_path)
    result = CliRunner().invoke(cmd_root, ['classify', '--no-store', '-o', str(tmp_path / 'x.extxyz'), str(particle)])
    assert result.exit_code == 2 and 'go with --per-atom' in result.output

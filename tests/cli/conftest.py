"""Fixtures of the command-line tests: structure files (good and bad), a model file, CLI runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CLI = [sys.executable, '-c', 'from aiida_crystalface.cli import cmd_root; cmd_root()']


@pytest.fixture
def good_files(tmp_path) -> list[Path]:
    """A CIF (fcc Cu), a POSCAR (bcc Fe) and a two-frame extxyz trajectory (sc Po, diamond Si)."""
    import ase.io
    from ase.build import bulk

    folder = tmp_path / 'good'
    folder.mkdir()
    cif, poscar, trajectory = folder / 'Cu.cif', folder / 'POSCAR', folder / 'md.extxyz'
    ase.io.write(cif, bulk('Cu', 'fcc', a=3.61, cubic=True))
    ase.io.write(poscar, bulk('Fe', 'bcc', a=2.87, cubic=True), format='vasp')
    frames = [bulk('Po', 'sc', a=3.35), bulk('Si', 'diamond', a=5.43, cubic=True)]
    ase.io.write(trajectory, frames, format='extxyz')
    return [cif, poscar, trajectory]


_HEADER = 'Lattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"'

#: Bad inputs and a word their error message must contain.
BAD_FILES = {
    'unreadable.cif': ('this is not a crystal structure\n', 'not a structure file that ASE or pymatgen can read'),
    'empty.extxyz': (f'0\n{_HEADER}\n', 'empty'),
    'nan.extxyz': (f'2\n{_HEADER}\nCu 0 0 0\nCu nan 1.5 1.5\n', 'NaN'),
    'unknown.extxyz': (f'2\n{_HEADER}\nCu 0 0 0\nXx 1.5 1.5 1.5\n', "unknown element 'Xx'"),
}


def _amorphous_extxyz() -> str:
    from aiida_crystalface.core.presentations import amorphous

    structure = amorphous(128, 0.07, seed=3)
    side = structure.cell[0, 0]
    lines = [f'{x:.6f} {y:.6f} {z:.6f}' for x, y, z in structure.positions]
    header = f'Lattice="{side} 0 0 0 {side} 0 0 0 {side}" Properties=species:S:1:pos:R:3 pbc="T T T"'
    return '\n'.join([str(len(lines)), header, *(f'Cu {line}' for line in lines)]) + '\n'


@pytest.fixture
def bad_files(tmp_path) -> dict[Path, str]:
    """Bad inputs -> a word their error message must contain."""
    folder = tmp_path / 'bad'
    folder.mkdir()
    files = {}
    for name, (text, reason) in BAD_FILES.items():
        (folder / name).write_text(text)
        files[folder / name] = reason
    return files


@pytest.fixture
def amorphous_file(tmp_path) -> Path:
    """Random atoms at crystal density: no long-range order, answered 'amorphous' (a result, not an error)."""
    path = tmp_path / 'amorphous.extxyz'
    path.write_text(_amorphous_extxyz())
    return path


@pytest.fixture(scope='session')
def model_file(tmp_path_factory) -> Path:
    """A ConvNet with seeded random weights saved as a model file: enough for the output contract, not accuracy."""
    import torch

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.ml.convnet import ConvNet

    torch.manual_seed(0)
    classifier = Classifier(ConvNet(4), ['fcc', 'diamond', 'bcc', 'sc'], FingerprintSettings(), metadata={'seed': 0})
    return classifier.save(tmp_path_factory.mktemp('model') / 'model.safetensors')


@pytest.fixture
def fresh_aiida_path(tmp_path) -> Path:
    """An empty AIIDA_PATH for a subprocess: no configuration, no profile."""
    path = tmp_path / 'aiida'
    path.mkdir()
    return path


def run_subprocess(args, aiida_path: Path, cwd: Path | None = None, timeout: int = 600):
    """Run ``aiida-crystalface ARGS`` in a subprocess with ``AIIDA_PATH`` set; return the CompletedProcess."""
    env = dict(os.environ, AIIDA_PATH=str(aiida_path), MPLBACKEND='Agg')
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )


def check_contract(results: list, expected_files: list[str], classes=('fcc', 'diamond', 'bcc', 'sc'), stored=True):
    """Assert that ``results`` is the ``classify --json`` list promised by the contract, in input order."""
    assert isinstance(results, list)
    assert [r['file'] for r in results] == expected_files
    for result in results:
        if 'error' in result:
            assert set(result) == {'file', 'error'}
            assert isinstance(result['error'], str) and result['error']
            continue
        assert set(result) == {'file', 'label', 'probabilities', 'uuid', 'uncertainty'}
        assert set(result['probabilities']) == set(classes)
        assert isinstance(result['uncertainty'], float) and 0 <= result['uncertainty'] <= 1
        if result['label'] not in ('unknown', 'amorphous'):
            assert result['label'] == max(result['probabilities'], key=result['probabilities'].get)
        assert np.isclose(sum(result['probabilities'].values()), 1.0, atol=1e-4)
        assert isinstance(result['uuid'], str) if stored else result['uuid'] is None


def parse_json(stdout: str) -> list:
    """Standard output must hold exactly one JSON document."""
    return json.loads(stdout)


def assert_no_profile(aiida_path: Path) -> None:
    """No AiiDA profile exists under ``aiida_path``."""
    config = aiida_path / '.aiida' / 'config.json'
    assert not config.exists() or not json.loads(config.read_text()).get('profiles'), config.read_text()

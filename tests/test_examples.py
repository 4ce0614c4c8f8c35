"""Every script of examples/ runs with ``verdi run`` in a subprocess, on a throwaway AIIDA_PATH with its own profile.

The classify example runs in the default test run (with a seeded random-weight model file: it checks the wiring);
the training and experiment examples take minutes and run with ``pytest -m slow`` (with the bundled model).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'
VERDI = str(Path(sys.executable).with_name('verdi'))


@pytest.fixture(scope='module')
def example_env(tmp_path_factory):
    """Environment of a throwaway AIIDA_PATH whose profile the ``aiida-crystalface`` bootstrap made."""
    aiida_path = tmp_path_factory.mktemp('aiida-examples')
    env = dict(os.environ, AIIDA_PATH=str(aiida_path), MPLBACKEND='Agg')
    bootstrap = [sys.executable, '-c', 'from aiida_crystalface.cli import cmd_root; cmd_root()', 'models', 'list']
    result = subprocess.run(bootstrap, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0 and 'Created the SQLite AiiDA profile' in result.stderr, result.stderr
    return env


@pytest.fixture(scope='module')
def random_model(tmp_path_factory) -> Path:
    import torch

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.ml.convnet import ConvNet

    torch.manual_seed(1)
    classifier = Classifier(ConvNet(4), ['fcc', 'diamond', 'bcc', 'sc'], FingerprintSettings())
    return classifier.save(tmp_path_factory.mktemp('model') / 'model.safetensors')


def run_example(name: str, env: dict, *args) -> str:
    result = subprocess.run(
        [VERDI, 'run', str(EXAMPLES / name), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'exit status 0' in result.stdout, result.stdout
    return result.stdout


def test_every_example_is_tested():
    tested = {
        'classify_structures.py',
        'classify_and_compute.py',
        'train_classifier.py',
        'bcc_to_sc.py',
        'lindemann.py',
        'reproduce_paper.py',
    }
    assert {path.name for path in EXAMPLES.glob('*.py')} == tested


def test_classify_example(example_env, random_model):
    output = run_example('classify_structures.py', example_env, random_model)
    assert 'exit status 0' in output, output
    rows = [line.split() for line in output.splitlines() if line.startswith(('Cu_', 'Fe_', 'Si_', 'Po_', 'W_'))]
    assert len(rows) == 5
    assert all(row[1] in {'fcc', 'diamond', 'bcc', 'sc'} and 0.25 <= float(row[2]) <= 1 for row in rows)


@pytest.mark.skipif(
    shutil.which('pw.x') is None, reason='pw.x is not installed: apt-get install quantum-espresso quantum-espresso-data'
)
def test_classify_and_compute_example(example_env):
    """The DFT example sets up pw.x and the family itself, then classifies and computes two defective crystals."""
    pytest.importorskip('aiida_quantumespresso', reason="aiida-quantumespresso is missing: pip install -e '.[dft]'")
    output = run_example('classify_and_compute.py', example_env)
    rows = {line.split()[0]: line.split() for line in output.splitlines() if line.startswith(('Si_', 'Cu_'))}
    assert rows['Si_defective'][2] == 'diamond' and rows['Cu_defective'][2] == 'fcc', output
    assert all(row[-1] == '0' and float(row[-4]) < 0 for row in rows.values()), output


@pytest.mark.slow
@pytest.mark.parametrize('name', ['bcc_to_sc.py', 'lindemann.py'])
def test_experiment_examples(example_env, name):
    output = run_example(name, example_env)
    assert 'exit status 0' in output, output
    steps = [line.split() for line in output.splitlines() if line.strip()[:1].isdigit()]
    assert len(steps) >= 9 and all(int(step[1]) == 10 for step in steps)


@pytest.mark.slow
def test_train_example(example_env):
    output = run_example('train_classifier.py', example_env)
    assert 'exit status 0' in output, output
    assert 'model node' in output and 'trained on dataset node' in output


@pytest.mark.slow
def test_reproduce_example_quick(example_env, tmp_path):
    output = run_example(
        'reproduce_paper.py', example_env, '--quick', '-o', tmp_path / 'out', cwd=tmp_path, timeout=3600
    )
    assert 'defective set: ConvNet' in output

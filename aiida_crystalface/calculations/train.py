"""The training CalcJob: runs ``python -m aiida_crystalface.ml.training`` on any AiiDA computer."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from aiida import orm
from aiida.common import datastructures
from aiida.engine import CalcJob

from aiida_crystalface.data.dataset import FingerprintDatasetData
from aiida_crystalface.data.model import ConvNetModelData

__all__ = ('HYPERPARAMETERS', 'TrainClassifierCalculation', 'get_local_code')

#: Hyper-parameter -> type; each becomes the command-line option ``--<name with dashes>``.
HYPERPARAMETERS = {
    'split': str,
    'test_fraction': float,
    'val_fraction': float,
    'epochs': int,
    'batch_size': int,
    'learning_rate': float,
    'seed': int,
    'max_steps': int,
    'precision': str,
    'accelerator': str,
    'devices': str,
    'num_threads': int,
    'weights_dtype': str,
}

DATASET_FILENAME = 'dataset.h5'
MODEL_FOLDER = 'model'
LOG_FILENAME = 'train.log'


def _validate_parameters(value: orm.Dict | None, _: Any) -> str | None:
    if value is None:
        return None
    unknown = sorted(set(value.get_dict()) - set(HYPERPARAMETERS))
    if unknown:
        return f'parameters: unknown hyper-parameter(s) {unknown}; known: {sorted(HYPERPARAMETERS)}'
    for key, kind in HYPERPARAMETERS.items():
        if key in value.get_dict():
            try:
                kind(value[key])
            except (TypeError, ValueError):
                return f'parameters: {key}={value[key]!r} is not a valid {kind.__name__}'
    return None


class TrainClassifierCalculation(CalcJob):
    """Train the ConvNet on a dataset node with the package's own training command."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('dataset', valid_type=FingerprintDatasetData, help='The fingerprint dataset to train on.')
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            required=False,
            validator=_validate_parameters,
            help=f'Hyper-parameters of the training command: {", ".join(HYPERPARAMETERS)}.',
        )
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'crystalface.train'
        spec.inputs['metadata']['options']['output_filename'].default = LOG_FILENAME
        spec.output('model', valid_type=ConvNetModelData, help='The trained model (a crystalface.model node).')
        spec.output('metrics', valid_type=orm.Dict, help='Accuracies and losses of the training run.')
        spec.output('log', valid_type=orm.SinglefileData, help='The output of the training command.')
        spec.default_output_node = 'metrics'
        spec.exit_code(
            300, 'ERROR_MISSING_OUTPUT', message='The training produced no model file or no metrics: {detail}'
        )
        spec.exit_code(301, 'ERROR_BAD_INPUT', message='The training command refused its input: {detail}')
        spec.exit_code(302, 'ERROR_INVALID_MODEL_FILE', message='The model file written is not a valid model: {detail}')
        spec.exit_code(310, 'ERROR_TRAINING_DIVERGED', message='The training diverged (NaN or infinite loss): {detail}')
        spec.exit_code(311, 'ERROR_OUT_OF_MEMORY', message='The training ran out of memory: {detail}')
        spec.exit_code(312, 'ERROR_TRAINING_FAILED', message='The training command failed: {detail}')

    def prepare_for_submission(self, folder) -> datastructures.CalcInfo:
        """Copy the dataset in, write the command line, retrieve the model, the metrics and the log."""
        parameters = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        arguments = ['-m', 'aiida_crystalface.ml.training', DATASET_FILENAME, '-o', MODEL_FOLDER, '--no-progress']
        for key in sorted(parameters):
            arguments += [f'--{key.replace("_", "-")}', str(HYPERPARAMETERS[key](parameters[key]))]
        codeinfo = datastructures.CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = arguments
        codeinfo.stdout_name = self.options.output_filename
        codeinfo.join_files = True
        calcinfo = datastructures.CalcInfo()
        calcinfo.codes_info = [codeinfo]
        dataset = self.inputs.dataset
        calcinfo.local_copy_list = [(dataset.uuid, dataset.filename, DATASET_FILENAME)]
        calcinfo.retrieve_list = [
            self.options.output_filename,
            f'{MODEL_FOLDER}/model.safetensors',
            f'{MODEL_FOLDER}/metrics.json',
            f'{MODEL_FOLDER}/metrics.csv',
        ]
        return calcinfo


def get_local_code(
    label: str = 'crystalface-python',
    computer_label: str = 'localhost-crystalface',
    workdir: str | os.PathLike | None = None,
    python: str | os.PathLike | None = None,
) -> orm.InstalledCode:
    """Return (creating them when missing) a localhost computer (core.local + core.direct) and a code that runs the
    current environment's python with this package installed; the default plugin is ``crystalface.train``."""
    from aiida_crystalface.calculations.utils import local_computer

    workdir = Path(workdir) if workdir else Path.home() / '.crystalface' / 'work'
    computer, _ = local_computer(computer_label, workdir, 'This machine, for crystalface training jobs')
    try:
        return orm.load_code(f'{label}@{computer.label}')
    except Exception:
        code = orm.InstalledCode(
            label=label,
            computer=computer,
            filepath_executable=str(python or sys.executable),
            default_calc_job_plugin='crystalface.train',
            description='python of the environment that has aiida-crystalface installed',
        )
        return code.store()

"""TrainClassifierWorkChain: prototypes -> optional defects -> fingerprints -> dataset -> training CalcJob -> model."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_

from aiida_crystalface.calculations.functions.build_dataset import build_dataset
from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
from aiida_crystalface.calculations.functions.make_defective_structures import make_defective_structures
from aiida_crystalface.calculations.functions.make_prototypes import make_prototypes
from aiida_crystalface.calculations.train import TrainClassifierCalculation
from aiida_crystalface.data.dataset import FingerprintDatasetData
from aiida_crystalface.workflows.utils import format_failures, run_batched

__all__ = ('TrainClassifierWorkChain',)

CLASSES = ['fcc', 'diamond', 'bcc', 'sc']


class TrainClassifierWorkChain(WorkChain):
    """Build a training set from the prototypes (and optionally defective copies) and train the ConvNet on it."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'prototypes.parameters',
            valid_type=orm.Dict,
            default=lambda: orm.Dict({}),
            help='Keyword arguments of core.prototypes.pristine_items (species, classes, representations, ...).',
        )
        spec.input('prototypes.seed', valid_type=orm.Int, default=lambda: orm.Int(0), help='Seed of the prototypes.')
        spec.input('defects.kind', valid_type=orm.Str, required=False, help='Add one defective copy of each item.')
        spec.input('defects.amount', valid_type=orm.Float, required=False, help='Fraction, sigma or parameter.')
        spec.input('defects.seed', valid_type=orm.Int, default=lambda: orm.Int(0), help='Seed of the defects.')
        spec.input(
            'settings',
            valid_type=orm.Dict,
            required=False,
            help='FingerprintSettings as a dict; the defaults of core.diffraction when absent.',
        )
        spec.input('batch_size', valid_type=orm.Int, default=lambda: orm.Int(500), help='Structures per batch.')
        spec.input(
            'dataset',
            valid_type=FingerprintDatasetData,
            required=False,
            help='A training set built already (e.g. by `aiida-crystalface dataset`): when given, the prototype, '
            'defect and fingerprint steps are skipped and the training job runs on it.',
        )
        spec.expose_inputs(TrainClassifierCalculation, namespace='training', exclude=('dataset',))
        spec.outline(
            if_(cls.needs_dataset)(
                cls.make_prototypes,
                if_(cls.with_defects)(cls.make_defects),
                cls.fingerprint,
                cls.build_dataset,
            ),
            cls.train,
            cls.results,
        )
        spec.output(
            'dataset', valid_type=FingerprintDatasetData, required=False, help='The training set, when built here.'
        )
        spec.expose_outputs(TrainClassifierCalculation)
        spec.exit_code(300, 'ERROR_INPUTS_FAILED', message='Items of the training set could not be made: {detail}')
        spec.exit_code(301, 'ERROR_TRAINING_FAILED', message='The training job failed: {detail}')

    def needs_dataset(self) -> bool:
        if 'dataset' in self.inputs:
            self.ctx.dataset = self.inputs.dataset
            return False
        return True

    def with_defects(self) -> bool:
        return 'kind' in self.inputs.get('defects', {})

    def make_prototypes(self):
        result = make_prototypes(self.inputs.prototypes.parameters, self.inputs.prototypes.seed)
        self.ctx.prototype_items = result['items']
        self.ctx.structures = dict(result['structures'])

    def make_defects(self):
        if 'amount' not in self.inputs.defects:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail='defects.kind given without defects.amount')
        outputs, failures, _ = run_batched(
            make_defective_structures,
            self.ctx.structures,
            self.inputs.batch_size.value,
            kind=self.inputs.defects.kind,
            amount=self.inputs.defects.amount,
            seed=self.inputs.defects.seed,
        )
        if failures:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail=format_failures(failures))
        self.ctx.structures.update({f'defect_{key}': node for key, node in outputs.items()})
        return None

    def fingerprint(self):
        if 'settings' in self.inputs:
            settings = self.inputs.settings
        else:
            from aiida_crystalface.core.diffraction import FingerprintSettings

            settings = orm.Dict(FingerprintSettings().to_dict()).store()
        outputs, failures, _ = run_batched(
            compute_fingerprints, self.ctx.structures, self.inputs.batch_size.value, settings=settings
        )
        if failures:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail=format_failures(failures))
        self.ctx.fingerprints = outputs
        return None

    def build_dataset(self):
        classes = self.inputs.prototypes.parameters.get('classes', CLASSES)
        kwargs = {'defect_kind': self.inputs.defects.kind} if self.with_defects() else {}
        self.ctx.dataset = build_dataset(
            orm.List(list(classes)), self.ctx.prototype_items, **kwargs, **self.ctx.fingerprints
        )

    def train(self):
        inputs = self.exposed_inputs(TrainClassifierCalculation, namespace='training')
        inputs['dataset'] = self.ctx.dataset
        return ToContext(calculation=self.submit(TrainClassifierCalculation, **inputs))

    def results(self):
        calculation = self.ctx.calculation
        if 'dataset' not in self.inputs:  # a given dataset is an input; only a dataset made here is an output
            self.out('dataset', self.ctx.dataset)
        self.out_many(self.exposed_outputs(calculation, TrainClassifierCalculation))
        if not calculation.is_finished_ok:
            return self.exit_codes.ERROR_TRAINING_FAILED.format(
                detail=f'{calculation.process_label}<{calculation.pk}> exit {calculation.exit_status}: '
                f'{calculation.exit_message}'
            )
        return None

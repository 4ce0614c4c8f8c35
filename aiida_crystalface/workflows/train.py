"""TrainClassifierWorkChain: prototypes -> optional defects -> fingerprints -> dataset -> training CalcJob -> model."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_crystalface.calculations.functions.build_dataset import build_dataset
from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
from aiida_crystalface.calculations.functions.make_defective_structures import make_defective_structures
from aiida_crystalface.calculations.functions.make_prototypes import make_prototypes
from aiida_crystalface.calculations.train import TrainClassifierCalculation
from aiida_crystalface.data.dataset import FingerprintDatasetData
from aiida_crystalface.workflows.utils import (
    batch_label,
    batch_names,
    called,
    format_failures,
    load_nodes,
    run_batch,
)

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
                if_(cls.with_defects)(
                    cls.check_defects,
                    while_(cls.has_next_batch)(
                        cls.make_defects_batch,
                    ),
                ),
                cls.setup_fingerprints,
                while_(cls.has_next_batch)(
                    cls.fingerprint_batch,
                ),
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
        """The pristine items (reused, when a restarted worker runs this step again)."""
        label = 'prototypes'
        done = [c for c in called(self.node, label) if c.is_finished_ok]
        if done:
            node = done[-1]
        else:
            _, node = make_prototypes.run_get_node(
                self.inputs.prototypes.parameters, self.inputs.prototypes.seed, metadata={'call_link_label': label}
            )
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail=f'make_prototypes<{node.pk}>: {node.exit_message}')
        self.ctx.prototype_items = node.outputs['items']
        self.ctx.structures = {key: n.pk for key, n in node.outputs.structures.items()}
        self.ctx.batch = 0
        return None

    def has_next_batch(self) -> bool:
        """Whether the loop in progress (defects, then fingerprints) has a batch left."""
        return self.ctx.batch * self.inputs.batch_size.value < len(self.ctx.pending)

    def check_defects(self):
        if 'amount' not in self.inputs.defects:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail='defects.kind given without defects.amount')
        self.ctx.pending = sorted(self.ctx.structures)
        self.ctx.defects = {}
        return None

    def make_defects_batch(self):
        """One batch of defective copies (one calcfunction; what an earlier try made is kept)."""
        index = self.ctx.batch
        names = batch_names(self.ctx.pending, index, self.inputs.batch_size.value)
        batch = run_batch(
            self,
            make_defective_structures,
            batch_label('defects', index),
            {name: self.ctx.structures[name] for name in names},
            kind=self.inputs.defects.kind,
            amount=self.inputs.defects.amount,
            seed=self.inputs.defects.seed,
        )
        if batch.message or batch.failures:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail=batch.message or format_failures(batch.failures))
        self.ctx.defects.update({f'defect_{key}': node.pk for key, node in batch.outputs.items()})
        self.ctx.batch = index + 1
        return None

    def setup_fingerprints(self):
        self.ctx.structures.update(self.ctx.get('defects', {}))
        if 'settings' in self.inputs:
            self.ctx.settings = self.inputs.settings
        else:
            from aiida_crystalface.core.diffraction import FingerprintSettings

            self.ctx.settings = orm.Dict(FingerprintSettings().to_dict()).store()
        self.ctx.pending = sorted(self.ctx.structures)
        self.ctx.fingerprints = {}
        self.ctx.batch = 0

    def fingerprint_batch(self):
        """One batch of fingerprints (one calcfunction; what an earlier try made is kept)."""
        index = self.ctx.batch
        names = batch_names(self.ctx.pending, index, self.inputs.batch_size.value)
        batch = run_batch(
            self,
            compute_fingerprints,
            batch_label('fingerprints', index),
            {name: self.ctx.structures[name] for name in names},
            settings=self.ctx.settings,
        )
        if batch.message or batch.failures:
            return self.exit_codes.ERROR_INPUTS_FAILED.format(detail=batch.message or format_failures(batch.failures))
        self.ctx.fingerprints.update({key: node.pk for key, node in batch.outputs.items()})
        self.ctx.batch = index + 1
        return None

    def build_dataset(self):
        classes = self.inputs.prototypes.parameters.get('classes', CLASSES)
        kwargs = {'defect_kind': self.inputs.defects.kind} if self.with_defects() else {}
        self.ctx.dataset = build_dataset(
            orm.List(list(classes)), self.ctx.prototype_items, **kwargs, **load_nodes(self.ctx.fingerprints)
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

"""The paper's robustness experiments as WorkChains: bcc -> sc (Fig. 4) and Lindemann disorder.

Each builds a pristine supercell, makes ``samples`` defective copies at every level of the series (one level per step,
so a restarted worker resumes at the next level not yet made), classifies them all with
:class:`~aiida_crystalface.workflows.classify.ClassifyStructuresWorkChain` and summarises the probabilities per step in
a Dict (``summarize_series``).
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, while_

from aiida_crystalface.calculations.functions.make_defective_structures import make_defective_structures
from aiida_crystalface.calculations.functions.make_prototypes import make_prototypes
from aiida_crystalface.calculations.functions.summarize_series import summarize_series
from aiida_crystalface.core.orientation import NO_LATTICE
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain
from aiida_crystalface.workflows.utils import batch_label, called, load_nodes, run_batch

__all__ = ('BccToScWorkChain', 'LindemannWorkChain', 'SeriesWorkChain')


def _levels(values: list[float]) -> orm.List:
    return orm.List([round(float(v), 10) for v in values])


class SeriesWorkChain(WorkChain):
    """A defect series: pristine supercell -> defective samples per level -> classification -> summary."""

    _DEFECT_KIND = ''
    _PROTOTYPE = 'bcc'
    _SPECIES = 'Fe'
    _LEVELS: list[float] = []

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('species', valid_type=orm.Str, default=lambda: orm.Str(cls._SPECIES), help='Chemical element.')
        spec.input(
            'prototype',
            valid_type=orm.Str,
            default=lambda: orm.Str(cls._PROTOTYPE),
            help='The pristine crystal class (fcc, diamond, bcc, sc).',
        )
        spec.input('levels', valid_type=orm.List, default=lambda: _levels(cls._LEVELS), help='Defect level per step.')
        spec.input('samples', valid_type=orm.Int, default=lambda: orm.Int(125), help='Defective samples per level.')
        spec.input('supercell_atoms', valid_type=orm.Int, default=lambda: orm.Int(128), help='Supercell size.')
        spec.input('seed', valid_type=orm.Int, default=lambda: orm.Int(0), help='Seed of the series.')
        spec.expose_inputs(ClassifyStructuresWorkChain, namespace='classify', exclude=('structures', 'group'))
        spec.outline(
            cls.make_pristine,
            while_(cls.has_next_level)(
                cls.make_level,
            ),
            cls.classify,
            cls.summarize,
        )
        spec.output(
            'summary', valid_type=orm.Dict, help='Mean / std of the probabilities and label fractions per step.'
        )
        spec.expose_outputs(ClassifyStructuresWorkChain, namespace='classification')
        spec.exit_code(300, 'ERROR_SERIES_FAILED', message='The series could not be built: {detail}')
        spec.exit_code(301, 'ERROR_CLASSIFICATION_FAILED', message='Classification failed: {detail}')

    def make_pristine(self):
        """Build the pristine supercell (reused, when a restarted worker runs this step again)."""
        label = 'pristine'
        done = [c for c in called(self.node, label) if c.is_finished_ok]
        if done:
            node = done[-1]
        else:
            parameters = orm.Dict(
                {
                    'species': [self.inputs.species.value],
                    'classes': [self.inputs.prototype.value],
                    'representations': ['conventional'],
                    'targets': [self.inputs.supercell_atoms.value],
                    'scale_range': [1.0, 1.0],
                    'supercell_atoms': self.inputs.supercell_atoms.value,
                }
            )
            _, node = make_prototypes.run_get_node(parameters, self.inputs.seed, metadata={'call_link_label': label})
        structures = node.outputs.structures if 'structures' in node.outputs else {}
        if not structures:
            return self.exit_codes.ERROR_SERIES_FAILED.format(detail='no pristine structure was made')
        self.ctx.pristine = structures[sorted(structures)[0]].pk
        self.ctx.level = 0
        self.ctx.series = {}
        return None

    def has_next_level(self) -> bool:
        return self.ctx.level < len(self.inputs.levels.get_list())

    def make_level(self):
        """The ``samples`` defective copies of one level (one calcfunction; what an earlier try made is kept)."""
        step = self.ctx.level
        level = self.inputs.levels.get_list()[step]
        pristine = orm.load_node(self.ctx.pristine)
        samples = {f'sample_{j}': pristine for j in range(self.inputs.samples.value)}
        batch = run_batch(
            self,
            make_defective_structures,
            batch_label('level', step),
            samples,
            kind=orm.Str(self._DEFECT_KIND),
            amount=orm.Float(level),
            seed=orm.Int(self.inputs.seed.value * 1000 + step),
        )
        if batch.message or batch.failures:
            detail = batch.message or '; '.join(f'{k}: {v}' for k, v in sorted(batch.failures.items()))
            return self.exit_codes.ERROR_SERIES_FAILED.format(detail=f'level {level}: {detail}')
        self.ctx.series.update({f'step_{step}_{key}': node.pk for key, node in batch.outputs.items()})
        self.ctx.level = step + 1
        return None

    def classify(self):
        inputs = self.exposed_inputs(ClassifyStructuresWorkChain, namespace='classify')
        inputs['structures'] = load_nodes(self.ctx.series)
        return ToContext(classification=self.submit(ClassifyStructuresWorkChain, **inputs))

    def summarize(self):
        child = self.ctx.classification
        self.out_many(self.exposed_outputs(child, ClassifyStructuresWorkChain, namespace='classification'))
        failures = child.outputs.failures.get_dict() if 'failures' in child.outputs else {}
        # A sample in which no lattice is found (disorder beyond melting) is a result of the series, not a failure.
        no_lattice = sorted(key for key, reason in failures.items() if NO_LATTICE in reason)
        if not child.is_finished_ok and (not failures or len(no_lattice) < len(failures)):
            return self.exit_codes.ERROR_CLASSIFICATION_FAILED.format(
                detail=f'{child.process_label}<{child.pk}>: {child.exit_message}'
            )
        predictions = child.outputs.predictions if 'predictions' in child.outputs else {}
        extra = {'no_lattice': orm.List(no_lattice)} if no_lattice else {}
        self.out(
            'summary', summarize_series(self.inputs.levels, **extra, **{key: predictions[key] for key in predictions})
        )
        return None


class BccToScWorkChain(SeriesWorkChain):
    """bcc -> sc: remove a growing share of the body-centre atoms (0 % .. 100 % in steps of 10 %)."""

    _DEFECT_KIND = 'bcc_to_sc'
    _LEVELS = [i / 10 for i in range(11)]


class LindemannWorkChain(SeriesWorkChain):
    """Lindemann disorder: Gaussian displacements at Lindemann parameters 0 .. 0.40 in steps of 0.05."""

    _DEFECT_KIND = 'lindemann'
    _LEVELS = [i * 0.05 for i in range(9)]

"""Train a small classifier with full provenance: ``verdi run examples/train_classifier.py``.

TrainClassifierWorkChain builds pristine prototypes of a few species, adds a vacancy-damaged copy of each, computes
their fingerprints, writes the dataset node and runs the training CalcJob (``crystalface.train``) on this machine.
The model node that comes out links back to its dataset and hyper-parameters. A few minutes on two cores.
"""

from pathlib import Path

from aiida import orm
from aiida.engine import run_get_node
from aiida.manage import get_manager
from aiida.plugins import WorkflowFactory

from aiida_crystalface.calculations.train import get_local_code
from aiida_crystalface.core.diffraction import FingerprintSettings

TrainClassifierWorkChain = WorkflowFactory('crystalface.train')

# The training job's working folders go next to the profile's own data, never into the home folder.
manager = get_manager()
code = get_local_code(workdir=Path(manager.get_config().dirpath) / 'scratch' / manager.get_profile().name)
builder = TrainClassifierWorkChain.get_builder()
builder.prototypes.parameters = orm.Dict(
    {'species': ['Cu', 'Fe', 'Si', 'Al', 'W', 'Ag'], 'representations': ['conventional'], 'targets': [128]}
)
builder.prototypes.seed = orm.Int(0)
builder.defects.kind = orm.Str('vacancies')
builder.defects.amount = orm.Float(0.25)
builder.defects.seed = orm.Int(1)
builder.settings = orm.Dict(FingerprintSettings().to_dict())
builder.training.code = code
builder.training.parameters = orm.Dict({'epochs': 3, 'batch_size': 8, 'seed': 0})

results, node = run_get_node(builder)
print(f'{node.process_label}<{node.pk}>: {node.process_state.value}, exit status {node.exit_status}')
model, dataset = results['model'], results['dataset']
print(f'model node {model.pk} (classes {model.classes}), trained on dataset node {dataset.pk}')
print('metrics:', {k: v for k, v in results['metrics'].get_dict().items() if isinstance(v, (int, float))})

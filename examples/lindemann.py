"""The paper's Lindemann experiment: ``verdi run examples/lindemann.py [MODEL_FILE]``.

Displaces the atoms of a bcc Fe supercell at Lindemann parameters 0 to 0.4 (steps of 0.05), a few samples per step,
classifies every sample with provenance and prints the mean probability of each class per step. The paper used 125
samples per step; 10 keep this example to a minute or two.
"""

import sys
from pathlib import Path

from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import DataFactory, WorkflowFactory

LindemannWorkChain = WorkflowFactory('crystalface.lindemann')

builder = LindemannWorkChain.get_builder()
builder.species = orm.Str('Fe')
builder.samples = orm.Int(10)
builder.seed = orm.Int(0)
if len(sys.argv) > 1:
    builder.classify.model = DataFactory('crystalface.model').get_or_create(Path(sys.argv[1]).resolve())

results, node = run_get_node(builder)
print(f'{node.process_label}<{node.pk}>: {node.process_state.value}, exit status {node.exit_status}')
summary = results['summary'].get_dict()
classes = summary['classes']
print(f'{"level":>6} {"n":>3} ' + ' '.join(f'{"p(" + c + ")":>11}' for c in classes))
for step, level in enumerate(summary['levels']):
    means = [summary['mean'][c][step] for c in classes]
    print(f'{level:6.2f} {summary["n"][step]:3d} ' + ' '.join(f'{m:11.3f}' for m in means))

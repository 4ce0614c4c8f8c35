"""The paper's bcc -> sc experiment (Fig. 4): ``verdi run examples/bcc_to_sc.py [MODEL_FILE]``.

Removes 0 to 100 % of the body-centre atoms of a bcc Fe supercell in steps of 10 %, a few random samples per step,
classifies every sample with provenance and prints the mean probability of bcc and sc per step. The paper used 125
samples per step; 10 keep this example to a minute or two.
"""

import sys
from pathlib import Path

from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import DataFactory, WorkflowFactory

BccToScWorkChain = WorkflowFactory('crystalface.bcc_to_sc')

builder = BccToScWorkChain.get_builder()
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

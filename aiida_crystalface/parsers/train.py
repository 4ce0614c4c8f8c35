"""Parser of the training CalcJob: model node, metrics and log, or an exit code naming the failure."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from aiida import orm
from aiida.engine import ExitCode
from aiida.parsers import Parser

__all__ = ('TrainClassifierParser',)

LOG_FILENAME = 'train.log'

#: Messages written by ``aiida_crystalface.ml.training.main`` on its failure paths -> exit code label.
_FAILURES = (
    ('error: training diverged', 'ERROR_TRAINING_DIVERGED'),
    ('error: out of memory', 'ERROR_OUT_OF_MEMORY'),
    ('error: bad input', 'ERROR_BAD_INPUT'),
)


class TrainClassifierParser(Parser):
    """Parse the retrieved folder of a ``crystalface.train`` job."""

    def parse(self, **kwargs) -> ExitCode | None:
        from aiida_crystalface.data.model import ConvNetModelData

        retrieved = self.retrieved
        names = set(retrieved.base.repository.list_object_names())
        log = retrieved.base.repository.get_object_content(LOG_FILENAME) if LOG_FILENAME in names else ''
        if log:
            self.out('log', orm.SinglefileData.from_string(log, filename=LOG_FILENAME))
        for marker, label in _FAILURES:
            for line in log.splitlines():
                if line.startswith(marker):
                    return self.exit_codes[label].format(detail=line[len(marker) :].lstrip(': '))
        # retrieve_list entries such as 'model/metrics.json' arrive flat, at the top of the retrieved folder.
        missing = [name for name in ('model.safetensors', 'metrics.json') if name not in names]
        if missing:
            tail = ' | '.join(log.strip().splitlines()[-3:])
            return self.exit_codes.ERROR_MISSING_OUTPUT.format(detail=f'missing {missing}; log ends: {tail}')
        metrics = json.loads(retrieved.base.repository.get_object_content('metrics.json'))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / 'model.safetensors'
            path.write_bytes(retrieved.base.repository.get_object_content('model.safetensors', mode='rb'))
            try:
                model = ConvNetModelData(path)
            except ValueError as exception:
                return self.exit_codes.ERROR_INVALID_MODEL_FILE.format(detail=str(exception))
        self.out('model', model)
        self.out('metrics', orm.Dict(metrics))
        return None

"""Progress and summaries: the training watcher, the reproduce summary line, AiiDA's process reports held back."""

from __future__ import annotations

import logging

from aiida_crystalface.cli.reproduce import _StepStatus, failure_summary
from aiida_crystalface.cli.train import _EpochWatcher
from aiida_crystalface.cli.utils import quiet_process_reports


def test_epoch_watcher_counts_the_epochs_in_the_jobs_log(tmp_path):
    folder = tmp_path / 'ab' / 'cd' / 'ef0123' / 'model'
    folder.mkdir(parents=True)
    watcher = _EpochWatcher(tmp_path, epochs=3)
    assert watcher._epochs_done() == 0
    rows = ['epoch,step,train_acc,train_loss,val_acc,val_loss', '0,9,,,0.5,1.2', '0,9,0.4,1.3,,', '1,19,,,0.6,1.1']
    (folder / 'metrics.csv').write_text('\n'.join(rows) + '\n')
    assert watcher._epochs_done() == 1  # the validation rows are not epochs
    (folder / 'metrics.csv').write_text('\n'.join([*rows, '1,19,0.7,0.9,,']) + '\n')
    assert watcher._epochs_done() == 2


def test_reproduce_failures_are_one_line_per_series_with_a_pointer():
    results = {
        'series': {
            'bcc_to_sc': {'pooled': {'n': [10, 10], 'no_lattice': [0.0, 0.0]}, 'runs': []},
            'lindemann': {
                'pooled': {'n': [10, 10, 10], 'no_lattice': [0.0, 0.5, 1.0]},
                'runs': [{'workchain': {'pk': 12}}, {'workchain': {'pk': 34}}],
            },
        }
    }
    (line,) = failure_summary(results)
    assert line.startswith('lindemann: 15 of 30 samples had no lattice found')
    assert "'amorphous'" in line and '12, 34' in line and 'report.md' in line
    assert len(line) < 300


def test_step_status_prints_finished_steps_only(capsys):
    with _StepStatus() as status:
        status.echo('[reproduce] datasets ...')
        status.echo('[reproduce] datasets done in 1.0 s')
    assert '[reproduce] datasets done in 1.0 s' in capsys.readouterr().err


def test_process_reports_are_held_back_from_the_terminal_but_kept_for_the_database():
    from aiida.common.log import LOG_LEVEL_REPORT
    from aiida.orm.utils.log import DBLogHandler

    class Collect(DBLogHandler):  # aiida's database handler, collecting instead of storing
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    from aiida.manage import get_manager

    if get_manager().get_profile() is not None:
        get_manager().get_profile_storage()  # loading it configures logging anew: before the handlers are added
    logger = logging.getLogger('aiida')
    terminal, database, level = logging.StreamHandler(), Collect(), logger.level
    logger.addHandler(terminal)
    logger.addHandler(database)
    try:
        logger.setLevel(LOG_LEVEL_REPORT)
        with quiet_process_reports():
            assert terminal.level == logging.WARNING
            logger.log(LOG_LEVEL_REPORT, 'a report')
        assert terminal.level == logging.NOTSET and [r.getMessage() for r in database.records] == ['a report']
        logger.setLevel(logging.INFO)  # --verbosity info: shown
        with quiet_process_reports():
            assert terminal.level == logging.NOTSET
    finally:
        logger.removeHandler(terminal)
        logger.removeHandler(database)
        logger.setLevel(level)

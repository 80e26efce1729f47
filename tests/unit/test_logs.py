"""The log an operator reads: the service's own lines at INFO, the libraries' chatter only with --verbose."""

import logging

import pytest

from service import logs


@pytest.fixture
def restore_levels():
    names = ["", *logs.CHATTY]
    saved = {n: logging.getLogger(n).level for n in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _emit() -> None:
    logging.getLogger("budbringer.scheduler").info("scheduler: started")
    logging.getLogger("apscheduler.executors.default").info('Running job "poll_sources"')
    logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /healthz HTTP/1.1" 200')
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("apscheduler.scheduler").warning('Execution of job "poll_sources" skipped')


@pytest.mark.parametrize("verbose", [False, True])
def test_library_info_lines_only_with_verbose(capsys, restore_levels, verbose):
    handler = logs.configure(verbose=verbose, force=True)
    try:
        _emit()
        err = capsys.readouterr().err
    finally:
        logging.getLogger().removeHandler(handler)
    assert "scheduler: started" in err
    assert "skipped" in err  # a warning from a library always shows
    for chatter in ("Running job", "GET /healthz", "Context impl"):
        assert (chatter in err) is verbose, err

"""The default number of workers: worker processes only where the cost model says they pay.

The model (:func:`overhang_sim.executors.default_workers`) is checked on given costs, and
the pilot that measures a run's cost on fake pilots; the timings themselves are in
benchmarks/workers_default.py. Whatever is chosen, the draws are the same bits
(tests/test_processes.py, tests/test_batch.py).
"""

from __future__ import annotations

import pytest

from overhang_sim import executors
from overhang_sim.executors import (
    PARALLEL_MIN_SAMPLES,
    TRANSFER_BYTES_PER_S,
    WORKER_START_S,
    WORKERS_MUST_SAVE,
    default_workers,
    executor_for,
    seconds_per_sample,
)


def _predicted(samples, per_sample, per_byte, workers):
    return samples * per_sample / workers + WORKER_START_S + samples * per_byte / TRANSFER_BYTES_PER_S


def test_small_runs_and_one_core_stay_in_this_process():
    assert default_workers(PARALLEL_MIN_SAMPLES - 1, 1.0, 0.0, cores=8) == 1
    assert default_workers(10**9, 1.0, 0.0, cores=1) == 1


def test_an_unmeasured_run_uses_every_core_as_before():
    assert default_workers(PARALLEL_MIN_SAMPLES, None, 0.0, cores=4) == 4


@pytest.mark.parametrize("cores", [2, 4, 16])
@pytest.mark.parametrize("samples", [2**18, 10**6, 10**7, 10**8])
@pytest.mark.parametrize("per_sample", [1e-7, 1e-6, 1e-5])
@pytest.mark.parametrize("per_byte", [0.0, 176.0])
def test_the_choice_is_the_cost_models(cores, samples, per_sample, per_byte):
    chosen = default_workers(samples, per_sample, per_byte, cores=cores)
    alone = samples * per_sample
    if samples < PARALLEL_MIN_SAMPLES:
        assert chosen == 1
    elif chosen == 1:  # no number of workers is predicted to save enough
        assert all(_predicted(samples, per_sample, per_byte, w) > WORKERS_MUST_SAVE * alone
                   for w in range(2, cores + 1))
    else:
        assert 2 <= chosen <= cores
        assert _predicted(samples, per_sample, per_byte, chosen) <= WORKERS_MUST_SAVE * alone


def test_kept_draws_that_cost_more_to_send_than_to_draw_stay_in_this_process():
    """The baseline at 1e7 kept: ~1.4 us a sample to draw, 176 bytes a sample to send back."""
    assert default_workers(10**7, 1.4e-6, 176.0, cores=2) == 1
    assert default_workers(10**7, 1.4e-6, 0.0, cores=2) == 2  # streamed, the same draws pay


def test_a_failing_pilot_keeps_the_run_in_this_process():
    def pilot(n):
        raise ValueError("a model check fails in some draw")

    assert seconds_per_sample(pilot, 10**6) == 0.0
    assert default_workers(10**6, 0.0, 0.0, cores=2) == 1


def test_the_pilot_times_a_share_of_the_run_after_a_warm_up(monkeypatch):
    asked = []
    clock = iter(range(100))
    monkeypatch.setattr(executors.time, "perf_counter", lambda: float(next(clock)))

    def pilot(n):
        asked.append(n)
        return n

    per_sample = seconds_per_sample(pilot, 10**6)
    warm_up, timed = executors.PILOT_DRAWS[0], 10**6 // executors.PILOT_SHARE
    assert asked == [warm_up, timed, timed]
    assert per_sample == pytest.approx(1.0 / timed)  # each timed call took one tick of the fake clock


def test_executor_for_measures_only_when_it_decides(monkeypatch):
    calls = []

    def pilot(n):
        calls.append(n)
        return n

    with executor_for(None, None, PARALLEL_MIN_SAMPLES - 1, pilot=pilot) as executor:
        assert executor is None
    with executor_for(2, None, 10**7, pilot=pilot) as executor:  # asked for: nothing to measure
        assert isinstance(executor, executors.LocalPool)
    assert calls == []
    monkeypatch.setattr(executors, "_cores", lambda: 2)
    with executor_for(None, None, 10**7, pilot=pilot, bytes_per_sample=1e6) as executor:
        assert executor is None  # a megabyte a sample to send back never pays
    assert calls


def test_threads_pay_where_processes_do_not():
    """Issue 11: threads start in milliseconds and send nothing back, so they pay on runs where
    worker processes' start-up and transfer do not."""
    per_sample, samples = 1e-7, 10**7  # a second in this process
    assert default_workers(samples, per_sample, 8.0 * 30, cores=2) == 1
    assert executors.default_threads(samples, per_sample, cores=2) == 2
    assert executors.default_threads(samples, per_sample, cores=1) == 1
    assert executors.default_threads(PARALLEL_MIN_SAMPLES - 1, per_sample, cores=2) == 1
    assert executors.default_threads(samples, 1e-12, cores=2) == 1  # 10 microseconds of work


def test_executor_for_defaults_to_threads_where_they_pay(monkeypatch):
    monkeypatch.setattr(executors, "_cores", lambda: 2)
    monkeypatch.setattr(executors, "seconds_per_sample", lambda pilot, samples: 1e-7)
    with executor_for(None, None, 10**7, pilot=lambda n: n, bytes_per_sample=1e6) as executor:
        assert isinstance(executor, executors.ThreadPool) and executor.threads == 2
    with executor_for(2, None, 10**7, pilot=lambda n: n) as executor:  # processes when asked for
        assert isinstance(executor, executors.LocalPool)
    with executor_for(1, None, 10**7, pilot=lambda n: n) as executor:  # --workers 1: this thread alone
        assert executor is None
    with executor_for(None, None, 10**7, threads=1) as executor:
        assert executor is None

"""The guided sampler on tables with a known answer: it finds the best candidates faster than
random, keeps seeds paired, never sends two workers to one place, and repeats itself for a seed."""

from __future__ import annotations

import statistics

import numpy as np
import optuna
import pytest

from search.driver import GuidedSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _landscape(n: int = 300, seed: int = 0) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Candidates as points in a 3-D descriptor space; the metric falls with the distance to a
    hidden optimum, so descriptors carry the answer."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1, 1, size=(n, 3))
    best = np.array([0.4, -0.3, 0.2])
    metric = -np.linalg.norm(points - best, axis=1)
    keys = [f"c{i}" for i in range(n)]
    return dict(zip(keys, points.tolist(), strict=True)), dict(zip(keys, metric, strict=True))


def _trials_to_top(sampler: optuna.samplers.BaseSampler, metric: dict[str, float], top: set) -> int:
    study = optuna.create_study(sampler=sampler, direction="maximize")
    for n in range(1, len(metric) + 1):
        trial = study.ask()
        key = trial.suggest_categorical("candidate", list(metric))
        study.tell(trial, metric[key])
        if key in top:
            return n
    return len(metric)


def test_it_finds_the_top_percent_in_a_fraction_of_the_trials_random_needs():
    features, metric = _landscape()
    top = set(sorted(metric, key=metric.get, reverse=True)[: len(metric) // 100])
    guided = [
        _trials_to_top(GuidedSampler(list(metric), features, seeds=1, seed=s), metric, top)
        for s in range(5)
    ]
    random = [_trials_to_top(optuna.samplers.RandomSampler(seed=s), metric, top) for s in range(5)]
    assert statistics.median(guided) < 0.5 * statistics.median(random), (guided, random)


def test_seeds_stay_paired_and_workers_in_flight_are_not_doubled():
    features, metric = _landscape(40)
    study = optuna.create_study(
        sampler=GuidedSampler(list(metric), features, seeds=2, seed=0, startup=3),
        direction="maximize",
    )
    first = study.ask()
    key = first.suggest_categorical("candidate", list(metric))
    study.tell(first, metric[key])
    again = study.ask()  # the same candidate's second seed comes before any new one
    assert again.suggest_categorical("candidate", list(metric)) == key
    study.tell(again, metric[key])
    # four asks in flight at once (parallel workers): two new candidates, each on its two
    # seeds, never one that is done or a third run of one in flight
    running = [study.ask() for _ in range(4)]
    chosen = [t.suggest_categorical("candidate", list(metric)) for t in running]
    assert chosen[0] == chosen[1] != chosen[2] == chosen[3] and key not in chosen


def test_its_choices_repeat_for_a_seed_and_differ_across_seeds():
    features, metric = _landscape(120)

    def sequence(seed: int) -> list[str]:
        study = optuna.create_study(
            sampler=GuidedSampler(list(metric), features, seeds=1, seed=seed, startup=4),
            direction="maximize",
        )
        keys = []
        for _ in range(10):
            trial = study.ask()
            keys.append(trial.suggest_categorical("candidate", list(metric)))
            study.tell(trial, metric[keys[-1]])
        return keys

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_candidates_without_descriptors_come_last(direction):
    features = {"a": [0.0], "b": [1.0], "c": [float("nan")]}
    study = optuna.create_study(
        sampler=GuidedSampler(["a", "b", "c"], features, seeds=1, seed=0, startup=1),
        direction=direction,
    )
    order = []
    for _ in range(3):
        trial = study.ask()
        order.append(trial.suggest_categorical("candidate", ["a", "b", "c"]))
        study.tell(trial, 1.0)
    assert order[-1] == "c" and sorted(order) == ["a", "b", "c"]

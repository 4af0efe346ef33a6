"""Autoscaling: the decision how many workers a queue wants (:mod:`.rule`), when to act on it
(:mod:`.policy`), its inputs from the running system, ``GET /scaling``, the gauge, and the loop
``jobqueue up --workers MIN:MAX`` runs."""

from jobqueue.scaling.bounds import Bounds, parse_workers
from jobqueue.scaling.policy import ScalePolicy
from jobqueue.scaling.rule import Decision, ScalingInputs, ScalingRule, decide

__all__ = [
    "Bounds",
    "Decision",
    "ScalePolicy",
    "ScalingInputs",
    "ScalingRule",
    "decide",
    "parse_workers",
]

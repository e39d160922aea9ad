"""Pairwise win rate across runs of one task (the paper's Table 1, last column).

For every pair of runs of the same task and every sample both judged, the run whose Overall is
higher wins that comparison; equal Overall is a tie and counts one half to each. A run's win
rate is ``100 * (wins + ties / 2) / comparisons``. Runs of different tasks are never compared
with each other, and a sample that failed or was not judged in either run is left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from mebench.analysis.runs import Run

TIE_RULE = "ties count one half"


@dataclass(frozen=True)
class WinRecord:
    """One run's tally: comparisons won, tied and made, and the rate in percent."""

    wins: int
    ties: int
    comparisons: int

    @property
    def rate(self) -> float | None:
        if self.comparisons == 0:
            return None
        return 100.0 * (self.wins + 0.5 * self.ties) / self.comparisons


def win_rates(runs: Sequence[Run]) -> list[WinRecord | None]:
    """Each run's :class:`WinRecord`, in the order given.

    ``None`` where the run has no other judged run of its task to be compared with (a task with
    one run, or a run without an Overall score on any sample).
    """
    scores = [run.overall() for run in runs]
    by_task: dict[str, list[int]] = defaultdict(list)
    for index, run in enumerate(runs):
        if scores[index]:
            by_task[run.task].append(index)
    wins = [0] * len(runs)
    ties = [0] * len(runs)
    made = [0] * len(runs)
    for indices in by_task.values():
        for i, j in combinations(indices, 2):
            for sid in scores[i].keys() & scores[j].keys():
                a, b = scores[i][sid], scores[j][sid]
                made[i] += 1
                made[j] += 1
                if a > b:
                    wins[i] += 1
                elif b > a:
                    wins[j] += 1
                else:
                    ties[i] += 1
                    ties[j] += 1
    out: list[WinRecord | None] = []
    for index in range(len(runs)):
        peers = by_task.get(runs[index].task, [])
        compared = len(peers) >= 2 and index in peers
        out.append(WinRecord(wins[index], ties[index], made[index]) if compared else None)
    return out

"""The recommendation: which candidate to use under the user's constraints, and why.

``recommend(candidates, constraints, objective)`` serves the CLI (``selector recommend``),
the GUI panel and the sheets alike. Candidates are plain :class:`Candidate` values; build them
by hand, or from a probe session with :func:`candidates_from_store`.
"""

from selector.core.recommend.candidate import (
    ESTIMATED, MEASURED, PUBLISHED, Candidate, Figure, TransferScore,
)
from selector.core.recommend.engine import recommend
from selector.core.recommend.result import (
    ACCURACY, BALANCED, DOMINATED, FINETUNE, INFERENCE, LATENCY, PARETO, RECOMMENDED, REJECTED,
    UNVERIFIED, Accuracy, Constraints, Objective, ProbeSuggestion, Recommendation, Verdict,
)

__all__ = [
    "ACCURACY", "BALANCED", "DOMINATED", "ESTIMATED", "FINETUNE", "INFERENCE", "LATENCY",
    "MEASURED", "PARETO", "PUBLISHED", "RECOMMENDED", "REJECTED", "UNVERIFIED",
    "Accuracy", "Candidate", "Constraints", "Figure", "Objective", "ProbeSuggestion",
    "Recommendation", "TransferScore", "Verdict", "recommend",
]

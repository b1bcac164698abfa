"""On-device probes: measure what a model does on this machine, each in its own process.

``ProbeSpec`` says what to run; ``ProbeRun(spec).events()`` runs it in a fresh child process
and yields ``ProbeEvent``s, the last one (``end``) carrying the ``ProbeResult``;
``BenchRun`` runs a list of specs with the pre-flight check and stores each result.
Probe kinds live in ``kinds/`` and are listed in ``registry.py``.
"""

from selector.core.probes.bench import BenchRun
from selector.core.probes.events import ProbeEvent
from selector.core.probes.registry import ProbeKind, get_kind, kinds, register
from selector.core.probes.runner import ProbeRun
from selector.core.probes.spec import ProbeSpec, parse_duration

__all__ = ["BenchRun", "ProbeEvent", "ProbeKind", "ProbeRun", "ProbeSpec", "get_kind", "kinds", "parse_duration",
           "register"]

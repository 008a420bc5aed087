"""Demo-force generator: a synthetic police force whose nightly landing drops follow the data contract.

Innocent staff behave realistically (noisy, with low-level curiosity and legitimate oddities);
a handful of insiders re-enact the IOPC case studies at realistic intensity, and decoys look
suspicious to a naive rule while being innocent. ``truth.json`` records both.

    from acu_audit.synth import generate_force
    report = generate_force(Path("demo"), staff=2000, days=60, seed=7)

Nothing in the pipeline imports this package.
"""

from acu_audit.synth.generator import GenerationReport, generate_force

__all__ = ["GenerationReport", "generate_force"]

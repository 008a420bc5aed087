"""Generator profiles: forces unlike the demo force (domain randomisation).

A lead list tuned on one generator at one noise level proves little. A profile changes the
innocent force in one direction a real force may differ in, and profiles combine
(``--profile noisy,busy``):

- ``noisy``: innocent noise at ``NOISY_LEVEL`` times the demo force's: look-ups with no purpose
  (more of them of sensitive and OCG subjects), prints and screenshots, case-less vehicle
  checks with no reason code by roads and control rooms, records altered by staff who hold no
  assignment (central offices tidying other units' records), look-ups just outside the
  rostered shift and in overruns it never recorded, traffic with counterparties unknown to
  force systems, and undeclared acquaintances on the index (more staff, more of them looked up). Calibrated so that today's list hits about a third of innocent staff, as
  forces built independently from the same contract did (docs/demo-force.md);
- ``busy``: ``BUSY_CASE_PEOPLE`` times the nominals on each case, drawn towards the prolific
  nominals, so "on a case of my unit" covers most of an area's known nominals;
- ``mix``: twice the control-room and intelligence share of the workforce;
- ``early``: the planted insiders' activity ends before the last 28 days of the history
  (a first run over a landing must still find it).

The default (no profile) is the demo force, byte for byte: a knob at its neutral value draws
no extra random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NOISY_LEVEL = 2.5
BUSY_CASE_PEOPLE = 3.0
MIX_FUNCTIONS = {"control_room": 2.0, "intelligence": 2.0}
# Days at the end of the history the `early` plants stay clear of (the default review window).
EARLY_CLEAR_DAYS = 28
PROFILE_NAMES = ("noisy", "busy", "mix", "early")


@dataclass(frozen=True)
class Profile:
    """How a generated force departs from the demo force; neutral values change nothing."""

    names: tuple[str, ...] = ()
    noise: float = 1.0  # scale of innocent noise (1 = the demo force)
    case_people: float = 1.0  # nominals per case (1 = the demo force)
    function_share: dict[str, float] = field(default_factory=dict)  # workforce share multipliers
    early: bool = False  # insiders' activity ends before the last EARLY_CLEAR_DAYS days

    @property
    def label(self) -> str:
        return ",".join(self.names) if self.names else "default"


def parse_profile(spec: str | None) -> Profile:
    """``"noisy,busy"`` -> the combined profile; ``None``, ``""`` or ``"default"`` -> the demo force."""
    names = [n.strip() for n in (spec or "").split(",") if n.strip() and n.strip() != "default"]
    unknown = sorted(set(names) - set(PROFILE_NAMES))
    if unknown:
        raise ValueError(f"unknown profile(s) {', '.join(unknown)}; choose from {', '.join(PROFILE_NAMES)} (comma-separated)")
    chosen = tuple(n for n in PROFILE_NAMES if n in names)  # canonical order, no repeats
    return Profile(
        names=chosen,
        noise=NOISY_LEVEL if "noisy" in chosen else 1.0,
        case_people=BUSY_CASE_PEOPLE if "busy" in chosen else 1.0,
        function_share=dict(MIX_FUNCTIONS) if "mix" in chosen else {},
        early="early" in chosen,
    )

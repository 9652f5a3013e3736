"""One "strength" knob for artists, mapped onto the raw loss weights.

Strength runs from 0 (the content, untouched) to 1 (style almost only).  Each step of
0.1 multiplies the style weight by 10^0.4 = 2.5, because what a person perceives as an
even step is a constant ratio of weights, not a constant difference.  Since every loss
is normalised (core/losses.py), the same strength looks the same at every size.
"""

from __future__ import annotations

from .job import JobError, Weights

STYLE_WEIGHT_AT_HALF = 10.0
DECADES_PER_UNIT = 4.0
TV_WEIGHT = 1.0


def weights_for(strength: float) -> Weights:
    if not 0.0 <= strength <= 1.0:
        raise JobError(f"strength must be between 0 and 1, got {strength}")
    if strength == 0:
        return Weights(content=1.0, style=0.0, tv=0.0)  # nothing to smooth: the content as it is
    style = STYLE_WEIGHT_AT_HALF * 10 ** (DECADES_PER_UNIT * (strength - 0.5))
    return Weights(content=1.0, style=style, tv=TV_WEIGHT)

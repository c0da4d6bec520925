"""Parsing of WebRTC-SVC ``scalabilityMode`` strings (``L1T3``, ``L3T3_KEY``, ``S3T3`` …).

mediasoup reads only the numbers of spatial and temporal layers and whether the mode is K-SVC;
anything it cannot read counts as one spatial and one temporal layer, as in Node's
``scalabilityModesUtils.parseScalabilityMode``.
"""

from __future__ import annotations

import re
from typing import Any

from mediasoup_ctl._js import js_str
from mediasoup_ctl.types import ScalabilityMode

__all__ = ["parse_scalability_mode"]

# Anchored at the start only, like Node's: "L2T2h" still parses as L2T2.
_SCALABILITY_MODE_RE = re.compile(r"^[LS]([1-9][0-9]?)T([1-9][0-9]?)(_KEY)?")


def parse_scalability_mode(mode: Any) -> ScalabilityMode:
    """Return ``{"spatialLayers", "temporalLayers", "ksvc"}`` for a scalability mode.

    ``None`` and unrecognised strings give ``L1T1`` (not an error), because a Producer without
    a scalability mode is a single-layer stream.
    """
    text = "" if mode is None else js_str(mode)
    match = _SCALABILITY_MODE_RE.match(text)
    if not match:
        return {"spatialLayers": 1, "temporalLayers": 1, "ksvc": False}
    return {
        "spatialLayers": int(match.group(1)),
        "temporalLayers": int(match.group(2)),
        "ksvc": match.group(3) is not None,
    }

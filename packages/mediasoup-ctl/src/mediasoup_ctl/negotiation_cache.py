"""Produce and consume negotiation, remembered for the inputs that repeat.

Every produce runs the same ``ortc`` chain (validate the RTP parameters, negotiate them with
the router's capabilities, map payload types and SSRCs, derive the consumable parameters),
and every consume derives a consumer's parameters from a producer's consumable ones and the
endpoint's capabilities. Those results depend only on their inputs, apart from the random
SSRCs drawn on each call: a re-publication, the same browser's capabilities consuming the
producers of a meeting, repeat them. So each result is kept as ``marshal`` bytes (C code
turns them back into fresh dicts, the objects each Producer and Consumer own) and the random
SSRCs are written in per call, drawn exactly as ``ortc`` draws them (one
``ortc.generate_random_number()`` per produce, and per non-pipe consume). Whether an
endpoint's capabilities can consume a producer (``Router.can_consume``, asked before each
consume) is remembered per producer the same way: ``ortc.can_consume`` validates the whole
capabilities each time, about 35 us, where their ``marshal`` key takes 5.

Keys are the ``marshal`` bytes of the inputs, so only equal plain data (same types, same
key order) shares an entry; inputs that are not plain data, and everything that fails, go
through ``ortc`` every time. Produce results live on their router, consume results on their
producer: a router's RTP capabilities and a producer's consumable parameters are fixed once
they exist (nothing in this package changes them, and callers must not either). Each entry
also holds the request templates of its requests (``fbs_template``).
"""

from __future__ import annotations

import marshal
from typing import TYPE_CHECKING, Any, cast

from . import ortc
from .types import MediaKind, RtpMapping, RtpParameters

if TYPE_CHECKING:
    from collections.abc import Callable

    from .producer import Producer
    from .transport import Transport

__all__ = ["ProducePlan", "ConsumePlan", "produce_plan", "consume_plan", "can_consume",
           "CACHE_MAX"]

CACHE_MAX = 64
"""Entries kept per router (produce) and per producer (consume) before the cache is reset."""

# marshal.dumps for the TypedDicts this module keeps (plain dicts at run time).
_dumps: Callable[[Any], bytes] = marshal.dumps


def _key(value: Any) -> bytes | None:
    try:
        return marshal.dumps(value)
    except ValueError:  # not plain data: no key
        return None


class ProducePlan:
    """What a produce of given RTP parameters on a transport with a given CNAME negotiates:
    the producer's parameters, the RTP mapping without its mapped SSRCs, the consumable
    parameters (their SSRCs are the mapped ones), and the templates of its request."""

    __slots__ = ("params", "params_blob", "mapping_codecs", "mapping_encodings",
                 "consumable_blob", "templates")

    def __init__(self, params: RtpParameters, mapping: RtpMapping,
                 consumable: RtpParameters) -> None:
        self.params_blob = _dumps(params)
        self.params = marshal.loads(self.params_blob)  # private: what the templates serialize
        self.mapping_codecs = marshal.loads(marshal.dumps(mapping["codecs"]))
        self.mapping_encodings: list[dict[str, Any]] = [
            {k: v for k, v in e.items() if k != "mappedSsrc"} for e in mapping["encodings"]]
        self.consumable_blob = _dumps(consumable)
        self.templates: dict[Any, Any] = {}

    def mapping(self, mapped_ssrcs: tuple[int, ...]) -> RtpMapping:
        """The RTP mapping with these mapped SSRCs (one per encoding)."""
        return cast(RtpMapping, {"codecs": self.mapping_codecs,
                "encodings": [{"mappedSsrc": ssrc, **encoding} for ssrc, encoding
                              in zip(mapped_ssrcs, self.mapping_encodings, strict=True)]})

    def results(self) -> tuple[RtpParameters, RtpParameters, tuple[int, ...]]:
        """Fresh producer and consumable parameters, and the mapped SSRCs, for a new call."""
        base = ortc.generate_random_number()
        consumable: RtpParameters = marshal.loads(self.consumable_blob)
        ssrcs = tuple(base + index for index in range(len(self.mapping_encodings)))
        for encoding, ssrc in zip(consumable["encodings"], ssrcs, strict=True):
            encoding["ssrc"] = ssrc
        params: RtpParameters = marshal.loads(self.params_blob)
        return params, consumable, ssrcs


class _ProduceEntry:
    """Plans of one (kind, transport type, RTP parameters), by the CNAME they end up with."""

    __slots__ = ("cname", "plans")

    def __init__(self, cname: Any) -> None:
        self.cname = cname  # the validated parameters' rtcp.cname (what Transport._cname reads)
        self.plans: dict[Any, ProducePlan] = {}


def produce_plan(transport: Transport, kind: MediaKind, rtp_parameters: Any) -> tuple[
        RtpParameters, RtpParameters, RtpMapping, tuple[int, ...], ProducePlan | None]:
    """``(params, consumable, mapping, mapped SSRCs, plan)`` of a produce, as
    ``create_producer`` computed them: from a plan when these inputs were negotiated before
    on this router, else through ``ortc`` (the plan is then kept; None if it cannot be)."""
    router = transport._router
    pipe = transport.type == "pipe"
    blob = _key(rtp_parameters)
    key = (kind, pipe, blob)
    cache: dict[Any, _ProduceEntry] = router._produce_plans
    entry = cache.get(key) if blob is not None else None
    if entry is not None:
        cname = None if pipe else transport._cname_for(entry.cname)
        plan = entry.plans.get(cname)
        if plan is not None:
            params, consumable, ssrcs = plan.results()
            return params, consumable, plan.mapping(ssrcs), ssrcs, plan
    params = ortc.validate_rtp_parameters(rtp_parameters)
    if not params.get("encodings"):
        params["encodings"] = [{}]
    given_cname = (params.get("rtcp") or {}).get("cname")
    cname = None
    if not pipe:
        # One CNAME for every producer of a transport, as in mediasoup.
        cname = transport._cname_for(given_cname)
        params["rtcp"] = {**(params.get("rtcp") or {}), "cname": cname}
    caps = router.rtp_capabilities
    params = ortc.negotiate_in_place(params, caps)  # params: our own copy
    mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    consumable = ortc.get_consumable_rtp_parameters(kind, params, caps, mapping)
    ssrcs = tuple(encoding["mappedSsrc"] for encoding in mapping["encodings"])
    if blob is None:
        return params, consumable, mapping, ssrcs, None
    try:
        plan = ProducePlan(params, mapping, consumable)
    except ValueError:  # the validated copy holds something marshal refuses
        return params, consumable, mapping, ssrcs, None
    if entry is None:
        if len(cache) >= CACHE_MAX:
            cache.clear()
        entry = cache[key] = _ProduceEntry(given_cname)
    if len(entry.plans) >= CACHE_MAX:
        entry.plans.clear()
    entry.plans[cname] = plan
    return params, consumable, mapping, ssrcs, plan


class ConsumePlan:
    """A (non-pipe) consumer's RTP parameters for one endpoint's capabilities, without the
    random SSRC of its one encoding and without its MID, and the templates of its request."""

    __slots__ = ("params_blob", "rtx", "templates")

    def __init__(self, params: RtpParameters) -> None:
        self.params_blob = _dumps(params)
        self.rtx = "rtx" in params["encodings"][0]
        self.templates: dict[Any, Any] = {}

    def results(self) -> RtpParameters:
        """Fresh consumer RTP parameters with a newly drawn SSRC (and RTX SSRC after it)."""
        params: RtpParameters = marshal.loads(self.params_blob)
        encoding = params["encodings"][0]
        encoding["ssrc"] = ssrc = ortc.generate_random_number()
        if self.rtx:
            encoding["rtx"]["ssrc"] = ssrc + 1
        return params

    def filled(self, values: tuple[Any, ...]) -> RtpParameters:
        """The parameters with ``values`` = (consumer id, MID, SSRC[, RTX SSRC]) in place (the
        values a consume request's template patches)."""
        params: RtpParameters = marshal.loads(self.params_blob)
        encoding = params["encodings"][0]
        encoding["ssrc"] = values[2]
        if self.rtx:
            encoding["rtx"]["ssrc"] = values[3]
        params["mid"] = values[1]
        return params


def consume_plan(producer: Producer, rtp_capabilities: Any, enable_rtx: bool
                 ) -> tuple[RtpParameters, ConsumePlan | None]:
    """``(rtp_parameters, plan)`` of a non-pipe consume of ``producer`` (no MID yet), from a
    plan when these capabilities consumed it before, else through ``ortc``."""
    blob = _key(rtp_capabilities)
    key = (bool(enable_rtx), blob)
    cache: dict[Any, ConsumePlan] = producer._consume_plans
    plan = cache.get(key) if blob is not None else None
    if plan is not None:
        return plan.results(), plan
    # get_consumer_rtp_parameters validates the capabilities (whole) before anything else.
    params = ortc.get_consumer_rtp_parameters(
        consumable_rtp_parameters=producer.consumable_rtp_parameters,
        remote_rtp_capabilities=rtp_capabilities, pipe=False, enable_rtx=enable_rtx)
    if blob is None or len(params["encodings"]) != 1:
        return params, None
    try:
        plan = ConsumePlan(params)
    except ValueError:
        return params, None
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = plan
    return params, plan


def can_consume(producer: Producer, rtp_capabilities: Any) -> bool:
    """``ortc.can_consume(producer.consumable_rtp_parameters, rtp_capabilities)``, remembered
    per producer for capabilities that repeat (in its consume cache, under ``(None, key)``).

    Raises as ``ortc.can_consume`` does for invalid capabilities; those are never kept."""
    blob = _key(rtp_capabilities)
    cache: dict[Any, Any] = producer._consume_plans
    key = (None, blob)
    if blob is not None:
        known = cache.get(key)
        if known is not None:
            return bool(known)
    result = ortc.can_consume(producer.consumable_rtp_parameters, rtp_capabilities)
    if blob is not None:
        if len(cache) >= CACHE_MAX:
            cache.clear()
        cache[key] = result
    return result

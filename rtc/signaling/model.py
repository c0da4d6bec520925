"""The base of the socket's request models, and how a failed validation is worded.

Why a base of our own: every request model shares one configuration (camelCase on the wire,
strict JSON types, unknown keys refused, frozen), and clients have long seen short messages
such as ``"transportId must be an id"``; pydantic's own wording would change what they see.
So simple fields carry a :class:`Rule` saying how their failure reads, checks written in
Python raise `SignalingError` through :func:`legacy`, and :func:`validate` turns the first
error back into the old message (:func:`explain`). The happy path stays in pydantic-core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.fields import MAX_ID_LENGTH

__all__ = ["ID_REGEX", "MAX_LAYER", "Id", "Layer", "OptionalId", "Paused", "Request", "Rule",
           "StartPaused", "explain", "legacy", "validate"]

MAX_LAYER = 15
ID_REGEX = rf"^[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}$"


@dataclass(frozen=True, slots=True)
class Rule:
    """How a natively checked field explains a failure, in the words clients already know.

    ``kind``: ``id``, ``choice``, ``int``, ``bool``, ``object`` (a free JSON object whose own
    validator runs only when the key is present), ``text`` (required text) or ``check`` (a
    Python check, asked what it says of an absent value)."""

    kind: str
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    check: Callable[[Any], Any] | None = None
    """For a field checked in Python (kind ``check``): what it says of an absent value."""

    def message(self, key: str, error_type: str, value: Any) -> str:
        """The legacy message for ``error_type`` on ``value`` of field ``key``."""
        if self.check is not None:
            try:
                self.check(None)
            except SignalingError as error:
                return error.message
        if self.kind == "object":
            return f"{key} must be an object"
        if value is None:  # absent or null: both read as "not given"
            return f"{key} is required"
        if self.kind == "id":
            return f"{key} must be an id"
        if self.kind == "choice":
            if not isinstance(value, str):
                return f"{key} must be a string"
            return f"{key} must be one of {', '.join(self.choices)}"
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{key} must be an integer"
            return f"{key} must be between {self.minimum} and {self.maximum}"
        if self.kind == "bool":
            return f"{key} must be true or false"
        return f"{key} is malformed"


def legacy(check: Callable[..., Any]) -> Callable[..., Any]:
    """Run a Python field check that raises `SignalingError`; its message becomes a pydantic
    error (collected in field order, like the other fields' errors) that :func:`explain`
    gives back word for word. ``check`` takes the value, or the value and the
    `ValidationInfo` (to read fields validated before it)."""
    if check.__code__.co_argcount == 2:
        def run_with_info(value: Any, info: ValidationInfo) -> Any:
            try:
                return check(value, info)
            except SignalingError as error:
                raise PydanticCustomError("rtc", "{message}",
                                          {"message": error.message}) from None

        return run_with_info

    def run(value: Any) -> Any:
        try:
            return check(value)
        except SignalingError as error:
            raise PydanticCustomError("rtc", "{message}", {"message": error.message}) from None

    return run


def _default(value: bool) -> Callable[[Any], Any]:
    def none_is_default(given: Any) -> Any:
        return value if given is None else given

    return none_is_default


Id = Annotated[str, StringConstraints(pattern=ID_REGEX), Rule("id"),
               Field(description="An object id: 1-64 characters of [A-Za-z0-9_-].")]
OptionalId = Annotated[Id | None, Rule("id")]
Layer = Annotated[int, Field(ge=0, le=MAX_LAYER), Rule("int", minimum=0, maximum=MAX_LAYER)]
Paused = Annotated[bool, BeforeValidator(_default(False)), Rule("bool")]
StartPaused = Annotated[bool, BeforeValidator(_default(True)), Rule("bool")]


class Request(BaseModel):
    """Base of every request model: camelCase on the wire, snake_case in Python, strict JSON
    types (a boolean is not an integer), unknown keys refused, immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              alias_generator=to_camel, populate_by_name=True)

    rules: ClassVar[dict[str, Rule]] = {}
    """Wire name → the rule explaining its failures (filled per model)."""
    aliases: ClassVar[frozenset[str]] = frozenset()
    """The wire names the model knows."""
    empty: ClassVar[Request | None] = None
    """The one instance of a model without fields (requests without data)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        rules: dict[str, Rule] = {}
        for name, info in cls.model_fields.items():
            for item in info.metadata:
                if isinstance(item, Rule):
                    rules[info.alias or name] = item
        cls.rules = rules
        cls.aliases = frozenset(info.alias or name for name, info in cls.model_fields.items())
        cls.empty = cls() if not cls.model_fields else None


def explain(model: type[Request], data: Mapping[str, Any], error: ValidationError) -> str:
    """The message of a failed validation, in the words the hand-written readers used: the
    first unknown key (in the client's order), else the first failing field's rule."""
    extra = [key for key in data if key not in model.aliases]
    if extra:
        return f"unexpected field {str(extra[0])[:32]!r} in data"
    first = error.errors(include_url=False)[0]
    if first["type"] == "rtc":
        return str(first.get("ctx", {}).get("message", "invalid request"))
    key = str(first["loc"][0]) if first["loc"] else "data"
    rule = model.rules.get(key)
    if rule is None:
        return f"{key} is malformed"
    return rule.message(key, first["type"], data.get(key))


def validate(model: type[Request], data: Any) -> Request:
    """``data`` of a request checked against ``model``; `SignalingError` ``invalid`` with the
    legacy message otherwise. A missing ``data`` counts as ``{}``.

    Calls the model's core validator directly: ``model_validate``'s Python wrapper costs
    about as much as validating a small request (``bench/validation.py``). A request without
    fields and without data is one shared (frozen) instance."""
    if not data:
        if data is None or data == {}:
            empty = model.empty
            if empty is not None:
                return empty
            data = {}
    if not isinstance(data, dict):
        raise SignalingError(ErrorCode.INVALID, "data must be an object")
    try:
        return model.__pydantic_validator__.validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as error:
        raise SignalingError(ErrorCode.INVALID, explain(model, data, error)) from None

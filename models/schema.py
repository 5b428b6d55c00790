"""Generic machinery behind the scenario: typed fields, validation, TOML in and out.

Scenario sections are frozen dataclasses whose fields are declared with
:func:`param`. The metadata on each field (its documentation, its source, its
allowed range) is the single place where a default and its justification live;
loading, validation and the commented TOML rendering all read it from there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tomllib
import types
import typing
from typing import Any

import tomlkit


#: dates a scenario may hold: the placement market of the last and the next century
DATE_MIN, DATE_MAX = dt.date(1950, 1, 1), dt.date(2200, 12, 31)
#: how deep a TOML document may nest (a scenario needs 4 levels; a policy rule list 5)
MAX_DEPTH = 20


class ScenarioError(ValueError):
    """A scenario value is missing, unknown, mistyped or out of range.

    ``key`` is the dotted path of the offending entry, so the message can name it.
    """

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(key, problem)  # both, so the error can be rebuilt from its args (SimPy, pickling)

    def __str__(self) -> str:
        key = self.key if self.key.isprintable() else repr(self.key)  # a key with a line break stays on one line
        problem = " ".join(self.problem.splitlines())
        return f"{key}: {problem}" if self.key else problem


def param(
    default: Any,
    doc: str,
    source: str = "",
    *,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    length: int | None = None,
    choices: tuple[str, ...] | None = None,
    unit: str = "",
) -> Any:
    """Declare a scenario field with its default, its meaning, its source and its limits.

    ``ge``/``le``/``gt`` bound numbers (element-wise for lists); ``length`` fixes a
    list's length; ``choices`` restricts strings (element-wise for lists).
    """
    meta = dict(doc=doc, source=source, ge=ge, le=le, gt=gt, length=length, choices=choices, unit=unit)
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        raise TypeError("use param_factory for mutable or nested defaults")
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type, doc: str) -> Any:
    """Declare a nested section, defaulting to the section's own defaults."""
    return dataclasses.field(default_factory=cls, metadata=dict(doc=doc, section=True))


def probability(default: float, doc: str, source: str = "") -> Any:
    return param(default, doc, source, ge=0.0, le=1.0)


# --------------------------------------------------------------------------- loading


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        (inner, *_rest) = typing.get_args(tp)
        return f"list of {_type_name(inner)}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if tp is float:
        return "number"
    if tp is int:
        return "whole number"
    if tp is bool:
        return "true/false"
    if tp is str:
        return "string"
    if tp is dt.date:
        return "date (YYYY-MM-DD)"
    if dataclasses.is_dataclass(tp):
        return "table"
    return str(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a TOML value to the field's declared type, or raise naming the key."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for a in args:
            try:
                return _coerce(value, a, key)
            except ScenarioError as e:
                errors.append(e)
        raise errors[0]
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            raise ScenarioError(key, f"expected a {_type_name(tp)}, got {value!r}")
        return tuple(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value) and isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ScenarioError(key, f"expected a table, got {value!r}")
        return build(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(float(value)):
                raise ScenarioError(key, "must be a number, got nan")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
    else:  # pragma: no cover - schema authoring error
        raise TypeError(f"unsupported field type {tp!r} at {key}")
    raise ScenarioError(key, f"expected a {_type_name(tp)}, got {value!r}")


def _check_limits(value: Any, meta: dict, key: str) -> None:
    items = value if isinstance(value, tuple) else (value,)
    if meta.get("length") is not None and isinstance(value, tuple) and len(value) != meta["length"]:
        raise ScenarioError(key, f"expected {meta['length']} values, got {len(value)}")
    for i, v in enumerate(items):
        k = f"{key}[{i}]" if isinstance(value, tuple) else key
        if v is None or dataclasses.is_dataclass(v):
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if meta.get("ge") is not None and v < meta["ge"]:
                raise ScenarioError(k, f"must be at least {meta['ge']:g}, got {v:g}")
            if meta.get("le") is not None and v > meta["le"]:
                raise ScenarioError(k, f"must be at most {meta['le']:g}, got {v:g}")
            if meta.get("gt") is not None and v <= meta["gt"]:
                raise ScenarioError(k, f"must be greater than {meta['gt']:g}, got {v:g}")
            if isinstance(v, float) and math.isinf(v) and meta.get("le") is None:
                raise ScenarioError(k, "must be finite")
        if isinstance(v, dt.date) and not DATE_MIN <= v <= DATE_MAX:
            raise ScenarioError(k, f"must be a date from {DATE_MIN} to {DATE_MAX}, got {v}")
        if isinstance(v, str) and meta.get("choices") and v not in meta["choices"]:
            raise ScenarioError(k, f"must be one of {', '.join(meta['choices'])}; got {v!r}")


def build(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a plain dict, validating every key on the way.

    Missing keys take their defaults; unknown keys, wrong types and values out of
    range raise :class:`ScenarioError` naming the dotted key.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ScenarioError(key, f"unknown key (allowed here: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        coerced = _coerce(value, hints[name], key)
        _check_limits(coerced, fields[name].metadata, key)
        kwargs[name] = coerced
    try:
        obj = cls(**kwargs)
    except ScenarioError as e:
        if prefix and not e.key.startswith(prefix):
            raise ScenarioError(f"{prefix}.{e.key}" if e.key else prefix, e.problem) from None
        raise
    return obj


def to_dict(obj: Any) -> Any:
    """Plain nested dicts, lists and scalars (the TOML data model) of a dataclass."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if v is None:
                continue
            out[f.name] = to_dict(v)
        return out
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


def set_dotted(data: dict, key: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, refusing paths that do not exist."""
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise ScenarioError(".".join(parts[: i + 1]), "unknown key")
        node = node[part]
    if not isinstance(node, dict):
        raise ScenarioError(key, "unknown key")
    node[parts[-1]] = value


def parse_value(text: str) -> Any:
    """Parse a command-line value as TOML (``8``, ``0.6``, ``true``, ``[1, 2]``), else a string."""
    try:
        return load_toml(f"v = {text}", "value")["v"]
    except ScenarioError:
        return text


def load_toml(text: str, origin: str = "scenario") -> dict:
    """Parse TOML text into plain data, or raise a one-line :class:`ScenarioError`.

    A UTF-8 byte-order mark is dropped (spreadsheet tools write one). Documents nested deeper than
    :data:`MAX_DEPTH` are refused, including those too deep for the parser itself."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("", f"{origin} is not valid TOML: {e}") from None
    except RecursionError:
        raise ScenarioError("", f"{origin} is not valid TOML: arrays or tables nested too deeply (at most {MAX_DEPTH} levels)") from None
    path = _too_deep(data, MAX_DEPTH)
    if path is not None:
        raise ScenarioError(path, f"nests arrays or tables too deeply (at most {MAX_DEPTH} levels)")
    return data


def _too_deep(value: Any, depth: int, path: str = "") -> str | None:
    """The dotted path where ``value`` goes deeper than ``depth`` levels, or None (iterative: no recursion limit)."""
    stack = [(value, path, 0)]
    while stack:
        v, p, d = stack.pop()
        if d > depth:
            return p or "(document)"
        if isinstance(v, dict):
            stack.extend((x, f"{p}.{k}" if p else str(k), d + 1) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, f"{p}[{i}]", d + 1) for i, x in enumerate(v))
    return None


# --------------------------------------------------------------------------- rendering


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return tomlkit.item(to_dict(value)).as_string()


def _comment(meta: dict) -> list[str]:
    text = meta.get("doc", "")
    if meta.get("unit"):
        text += f" [{meta['unit']}]"
    lines = [f"# {text}"] if text else []
    if meta.get("source"):
        lines.append(f"#   source: {meta['source']}")
    return lines


def render(obj: Any, path: str = "") -> str:
    """Commented TOML for a scenario dataclass: every key with its meaning and source."""
    scalars: list[str] = []
    tables: list[str] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        sub = f"{path}.{f.name}" if path else f.name
        if f.metadata.get("section"):
            head = _comment(f.metadata) + [f"[{sub}]"]
            tables.append("\n".join(head) + "\n" + render(value, sub))
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for item in value:
                tables.append("\n".join(_comment(f.metadata) + [f"[[{sub}]]"]) + "\n" + render(item, sub))
        elif value is None:
            scalars.extend(_comment(f.metadata) + [f"# {f.name} = (not set)"])
        else:
            scalars.extend(_comment(f.metadata) + [f"{f.name} = {_fmt(value)}"])
    out = "\n".join(scalars)
    if tables:
        out += ("\n\n" if out else "") + "\n\n".join(tables)
    return out + "\n"

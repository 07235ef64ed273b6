"""Press classes with kvpress's names and constructor arguments, generated from the C++ press registry.

Every registered press becomes a class (``knorm`` -> ``KnormPress``, ``snapkv`` -> ``SnapKVPress``, ...)
whose constructor takes ``compression_ratio`` and the registry's parameters with their defaults, as
kvpress's dataclasses do; wrappers take the press(es) they wrap (``AdaKVPress(press=...)``,
``ComposedPress(presses=[...])``). Attributes can be changed after construction, as in kvpress.
"""
import inspect as _inspect

from . import _core

# Registry names whose kvpress class name is not CamelCase + "Press".
_CLASS_NAMES = {
    "snapkv": "SnapKVPress",
    "expected_attention_press": "ExpectedAttentionPress",
    "streaming_llm": "StreamingLLMPress",
    "tova": "TOVAPress",
    "adakv": "AdaKVPress",
}
# Wrappers taking a list of presses; the others take one, as `press`.
_LIST_WRAPPERS = {"composed"}


def class_name(registry_name):
    """kvpress's class name of a registry press name."""
    if registry_name in _CLASS_NAMES:
        return _CLASS_NAMES[registry_name]
    return "".join(part.capitalize() for part in registry_name.split("_")) + "Press"


def _value(text):
    """A registry default ("64", "0.2", "true", "none") as the Python value kvpress uses."""
    if text == "none":
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return float(text)


def _text(name, value, default):
    """A Python argument as registry text. Booleans and None are checked here; numbers are checked by the
    registry (its message names the range), since a default such as "0" does not say int or float."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {value!r}")
        return "true" if value else "false"
    if value is None:
        if default is not None:
            raise TypeError(f"{name} cannot be None")
        return "none"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and value.is_integer() and isinstance(default, int):
        value = int(value)  # 32.0 for an integer parameter
    return repr(value) if isinstance(value, float) else str(value)


class BasePress:
    """Base of every press class: holds kvpress's constructor arguments, builds the C++ press on use."""

    _registry_name = ""
    _parameters = ()  # (name, default) besides compression_ratio / the wrapped presses
    _is_wrapper = False

    def _config(self):
        raise NotImplementedError

    def _bind(self, args, kwargs):
        """Positional and keyword arguments to {field: value}, with Python's own TypeErrors."""
        names = self._field_names()
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} arguments ({len(args)} given)")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{type(self).__name__} got an unexpected argument '{k}' (takes {', '.join(names)})")
            if k in values:
                raise TypeError(f"{type(self).__name__} got multiple values for argument '{k}'")
            values[k] = v
        return values

    def __repr__(self):
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._field_names())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other):
        return type(self) is type(other) and all(getattr(self, k) == getattr(other, k) for k in self._field_names())

    @property
    def spec(self):
        """The C++ registry specification of this press (see `kvpress presses`)."""
        return self._config().spec


def _raise_value_error(err):
    raise ValueError(str(err)) from None


class ScorerPress(BasePress):
    """A press scoring every KV pair; keeps int(n * (1 - compression_ratio)) per head."""

    @classmethod
    def _field_names(cls):
        return ("compression_ratio",) + tuple(n for n, _ in cls._parameters)

    def __init__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        self.compression_ratio = values.get("compression_ratio", 0.0)
        for n, default in self._parameters:
            setattr(self, n, values.get(n, default))
        self._config()  # bad values fail here, with the library's message

    def _config(self):
        ratio = self.compression_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
            raise TypeError(f"compression_ratio must be a number, got {ratio!r}")
        params = [(n, _text(n, getattr(self, n), d)) for n, d in self._parameters]
        try:
            return _core.PressConfig.make(self._registry_name, float(ratio), params)
        except _core.Error as err:
            _raise_value_error(err)


class _WrapperPress(BasePress):
    """A press around other presses; its compression ratio is theirs."""

    _is_wrapper = True
    _inner_name = "press"

    @classmethod
    def _field_names(cls):
        return (cls._inner_name,) + tuple(n for n, _ in cls._parameters)

    def __init__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        if self._inner_name not in values:
            raise TypeError(f"{type(self).__name__} needs the argument '{self._inner_name}'")
        setattr(self, self._inner_name, values[self._inner_name])
        for n, default in self._parameters:
            setattr(self, n, values.get(n, default))
        self._config()

    def _inner(self):
        inner = getattr(self, self._inner_name)
        presses = list(inner) if self._inner_name == "presses" else [inner]
        for p in presses:
            if not isinstance(p, BasePress):
                raise TypeError(f"{type(self).__name__}: {self._inner_name} must hold press objects, got {p!r}")
        return presses

    @property
    def compression_ratio(self):
        return self._inner()[0].compression_ratio

    @compression_ratio.setter
    def compression_ratio(self, ratio):
        for p in self._inner():
            p.compression_ratio = ratio

    def _config(self):
        params = [(n, _text(n, getattr(self, n), d)) for n, d in self._parameters]
        inner = [p._config() for p in self._inner()]
        try:
            return _core.PressConfig.wrap(self._registry_name, inner, params)
        except _core.Error as err:
            _raise_value_error(err)


def _make_class(entry):
    name = class_name(entry["name"])
    params = tuple((n, _value(d)) for n, d in entry["parameters"])
    namespace = {"_registry_name": entry["name"], "_parameters": params, "__doc__": entry["description"],
                 "__module__": "kvpress_cpp"}
    if entry["is_wrapper"]:
        inner = "presses" if entry["name"] in _LIST_WRAPPERS else "press"
        namespace["_inner_name"] = inner
        first = [_inspect.Parameter(inner, _inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        base = _WrapperPress
    else:
        first = [_inspect.Parameter("compression_ratio", _inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0.0)]
        base = ScorerPress
    rest = [_inspect.Parameter(n, _inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for n, d in params]
    cls = type(name, (base,), namespace)
    cls.__signature__ = _inspect.Signature(first + rest)
    return cls


def press_classes():
    """{class name: class} for every registered press (aliases excluded)."""
    return {class_name(e["name"]): _make_class(e) for e in _core.press_catalog() if not e["is_alias"]}


def as_config(press):
    """A press object (or None) as the C++ PressConfig."""
    if press is None:
        return _core.PressConfig()
    if isinstance(press, BasePress):
        return press._config()
    raise TypeError(f"press must be a kvpress_cpp press object or None, got {press!r}")

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
    "keydiff": "KeyDiffPress",
    "cam": "CAMPress",
    "pyramidkv": "PyramidKVPress",
    "lagkv": "LagKVPress",
    "cur": "CURPress",
    "cap": "CapPress",
    "leverage": "LeverageScorePress",
    "non_causal_attention": "NonCausalAttnPress",
    "compactor": "CompactorPress",
    "criticalkv": "CriticalKVPress",
    "critical_adakv": "CriticalAdaKVPress",
    "chunkkv": "ChunkKVPress",
    "dms": "DMSPress",
    "simlayerkv": "SimLayerKVPress",
    "kvzip": "KVzipPress",
    "kvcompose": "KVComposePress",
    "think": "ThinKPress",
    "expected_attention_with_stats": "ExpectedAttentionStatsPress",
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
        pass
    try:
        return float(text)
    except ValueError:
        return text  # enum-like text parameters, e.g. CURPress's leverage_type="kv_product"


def _text(name, value, default):
    """A Python argument as registry text. Booleans and None are checked here; numbers are checked by the
    registry (its message names the range), since a default such as "0" does not say int or float."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {value!r}")
        return "true" if value else "false"
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r}")
        return value
    if value is None:
        if default is not None:
            raise TypeError(f"{name} cannot be None")
        return "none"
    if isinstance(value, (list, tuple)):  # a list parameter (per_layer_compression's compression_ratios)
        return ";".join(_text(name, v, 0.0) for v in value)
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


class _DecodingPress(BasePress):
    """A press compressing while tokens are generated (kvpress's DecodingPress family): its base press
    re-compresses the whole cache; the base's own ratio is set from the target, so it must stay 0."""

    _is_wrapper = True

    @classmethod
    def _field_names(cls):
        return ("base_press",) + tuple(n for n, _ in cls._parameters)

    def __init__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        if "base_press" not in values:
            raise TypeError(f"{type(self).__name__} needs the argument 'base_press'")
        self.base_press = values["base_press"]
        for n, default in self._parameters:
            setattr(self, n, values.get(n, default))
        self._config()

    def _ratio(self):
        return 0.0

    @property
    def compression_ratio(self):
        return self._ratio()

    def _config(self):
        if not isinstance(self.base_press, BasePress):
            raise TypeError(f"{type(self).__name__}: base_press must be a press object, got {self.base_press!r}")
        if self.base_press.compression_ratio != 0:
            raise ValueError(f"{type(self).__name__}: the ratio of base_press ({self.base_press.compression_ratio}) is "
                             "set from the target while decoding; give it 0")
        params = ",".join(f"{n}={_text(n, getattr(self, n), d)}" for n, d in self._parameters if n != "target_compression_ratio")
        spec = f"{self._registry_name}({self.base_press._config().spec})" + (":" + params if params else "")
        try:
            return _core.PressConfig.from_spec(spec, float(self._ratio()))
        except _core.Error as err:
            _raise_value_error(err)


class DecodingPress(_DecodingPress):
    """While decoding, re-compresses the whole cache to target_size entries every compression_interval tokens."""

    _registry_name = "decoding"
    _parameters = (("compression_interval", 512), ("target_size", 2048), ("hidden_states_buffer_size", 256))


class CompressionRatioDecodingPress(_DecodingPress):
    """While decoding, re-compresses the cache to (1 - target_compression_ratio) of the tokens seen."""

    _registry_name = "compression_ratio_decoding"
    _parameters = (("compression_interval", 512), ("target_compression_ratio", 0.5), ("hidden_states_buffer_size", 256))

    def _ratio(self):
        r = self.target_compression_ratio
        if isinstance(r, bool) or not isinstance(r, (int, float)):
            raise TypeError(f"target_compression_ratio must be a number, got {r!r}")
        return r


class CAMPress(_DecodingPress):
    """Decoding press that merges evicted values into the next kept ones before evicting (CaM)."""

    _registry_name = "cam"
    _parameters = (("compression_interval", 512), ("target_size", 2048), ("hidden_states_buffer_size", 256),
                   ("merge_budget", 32))


class PrefillDecodingPress(BasePress):
    """One press compresses the context at prefill, a decoding press the generation (either may be None)."""

    _registry_name = "prefill_decoding"
    _is_wrapper = True

    @classmethod
    def _field_names(cls):
        return ("prefilling_press", "decoding_press")

    def __init__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        self.prefilling_press = values.get("prefilling_press")
        self.decoding_press = values.get("decoding_press")
        self._config()

    @property
    def compression_ratio(self):
        return self.prefilling_press.compression_ratio if self.prefilling_press is not None else 0.0

    def _config(self):
        for name in self._field_names():
            p = getattr(self, name)
            if p is not None and not isinstance(p, BasePress):
                raise TypeError(f"PrefillDecodingPress: {name} must be a press object or None, got {p!r}")
        if self.decoding_press is None:  # as kvpress: the present press alone
            return self.prefilling_press._config() if self.prefilling_press is not None else _core.PressConfig()
        if self.prefilling_press is None:
            return self.decoding_press._config()
        prefill, decoding = self.prefilling_press._config(), self.decoding_press._config()
        try:
            return _core.PressConfig.from_spec(f"prefill_decoding({prefill.spec},{decoding.spec})",
                                               prefill.compression_ratio)
        except _core.Error as err:
            _raise_value_error(err)


_EXPLICIT = {c.__name__: c for c in (DecodingPress, CompressionRatioDecodingPress, CAMPress, PrefillDecodingPress)}
for _c in _EXPLICIT.values():
    _c.__module__ = "kvpress_cpp"


def press_classes():
    """{class name: class} for every registered press (aliases excluded); the decoding family is written
    out above (kvpress's base_press / prefilling_press arguments)."""
    classes = {class_name(e["name"]): _make_class(e) for e in _core.press_catalog() if not e["is_alias"]}
    classes.update(_EXPLICIT)
    return classes


def as_config(press):
    """A press object (or None) as the C++ PressConfig."""
    if press is None:
        return _core.PressConfig()
    if isinstance(press, BasePress):
        return press._config()
    raise TypeError(f"press must be a kvpress_cpp press object or None, got {press!r}")

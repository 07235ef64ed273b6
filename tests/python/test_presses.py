"""Every registered press is a class with kvpress's name and constructor arguments."""
import pytest

import kvpress_cpp
from kvpress_cpp import (AdaKVPress, ComposedPress, ExpectedAttentionPress, KnormPress, ObservedAttentionPress,
                         RandomPress, SnapKVPress, StreamingLLMPress, TOVAPress)

KVPRESS_CLASSES = ["AdaKVPress", "ComposedPress", "ExpectedAttentionPress", "KnormPress", "ObservedAttentionPress",
                   "RandomPress", "SnapKVPress", "StreamingLLMPress", "TOVAPress"]


def test_every_registered_press_has_a_class():
    registered = [e["name"] for e in kvpress_cpp._core.press_catalog() if not e["is_alias"]]
    assert sorted(kvpress_cpp.class_name(n) for n in registered) == kvpress_cpp.PRESS_CLASSES
    assert set(KVPRESS_CLASSES) <= set(kvpress_cpp.PRESS_CLASSES)


@pytest.mark.parametrize("make,spec", [
    (lambda: KnormPress(compression_ratio=0.5), "knorm"),
    (lambda: SnapKVPress(compression_ratio=0.5, window_size=64), "snapkv:window_size=64,kernel_size=5"),
    (lambda: SnapKVPress(0.5, 32, 7), "snapkv:window_size=32,kernel_size=7"),
    (lambda: ExpectedAttentionPress(compression_ratio=0.5, n_future_positions=256, n_sink=2, use_covariance=False,
                                    use_vnorm=True, epsilon=0.01),
     "expected_attention_press:n_future_positions=256,n_sink=2,use_covariance=false,use_vnorm=true,epsilon=0.01"),
    (lambda: StreamingLLMPress(compression_ratio=0.25, n_sink=4), "streaming_llm:n_sink=4"),
    (lambda: TOVAPress(compression_ratio=0.5), "tova"),
    (lambda: ObservedAttentionPress(compression_ratio=0.5), "observed_attention"),
    (lambda: RandomPress(compression_ratio=0.5, seed=3), "random:seed=3"),
    (lambda: RandomPress(compression_ratio=0.5), "random"),
    (lambda: AdaKVPress(press=SnapKVPress(compression_ratio=0.5, window_size=64)),
     "adakv(snapkv:window_size=64,kernel_size=5):alpha_safeguard=0.2"),
    (lambda: AdaKVPress(ExpectedAttentionPress(0.5), alpha_safeguard=0.1), None),
    (lambda: ComposedPress(presses=[KnormPress(0.5), StreamingLLMPress(0.5)]), "composed(knorm,streaming_llm:n_sink=4)"),
])
def test_constructs_with_kvpress_arguments(make, spec):
    press = make()
    assert press.compression_ratio == 0.5 or isinstance(press, StreamingLLMPress)
    if spec is not None:
        assert press._config().canonical_spec() == spec


def test_defaults_are_kvpress_defaults():
    assert KnormPress().compression_ratio == 0.0
    s = SnapKVPress()
    assert (s.window_size, s.kernel_size) == (64, 5)
    e = ExpectedAttentionPress()
    assert (e.n_future_positions, e.n_sink, e.use_covariance, e.use_vnorm, e.epsilon) == (512, 4, True, True, 0.0)
    assert StreamingLLMPress().n_sink == 4
    assert RandomPress().seed is None
    assert AdaKVPress(press=KnormPress()).alpha_safeguard == 0.2


def test_wrapper_ratio_is_the_inner_press_ratio_and_attributes_are_mutable():
    inner = SnapKVPress(compression_ratio=0.25)
    ada = AdaKVPress(press=inner)
    assert ada.compression_ratio == 0.25
    ada.compression_ratio = 0.5
    assert inner.compression_ratio == 0.5
    inner.window_size = 16
    assert "window_size=16" in ada.spec


def test_bad_arguments_raise_python_exceptions_with_the_library_message():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        KnormPress(compression_ratio=1.5)
    with pytest.raises(ValueError, match="window_size"):
        SnapKVPress(compression_ratio=0.5, window_size=0)
    with pytest.raises(TypeError, match="unexpected argument 'window'"):
        SnapKVPress(compression_ratio=0.5, window=3)
    with pytest.raises(ValueError, match="window_size"):
        SnapKVPress(window_size=2.5)
    with pytest.raises(TypeError, match="bool"):
        ExpectedAttentionPress(use_covariance=1)
    with pytest.raises(ValueError, match="cannot contain 'adakv'"):
        ComposedPress(presses=[AdaKVPress(press=KnormPress(0.5)), KnormPress(0.5)])
    with pytest.raises(TypeError):
        AdaKVPress()


def test_library_errors_are_kvpress_cpp_error(tmp_path):
    assert issubclass(kvpress_cpp.Error, RuntimeError)
    missing = tmp_path / "missing.gguf"
    with pytest.raises(kvpress_cpp.Error, match="missing.gguf"):
        kvpress_cpp.pipeline("kv-press-text-generation", model=str(missing))
    with pytest.raises(kvpress_cpp.Error, match="unknown press 'nope'"):
        kvpress_cpp.PressConfig.from_spec("nope", 0.5)


def test_decoding_presses_take_kvpress_arguments():
    from kvpress_cpp import CAMPress, CompressionRatioDecodingPress, DecodingPress, KeyDiffPress, PrefillDecodingPress
    d = DecodingPress(base_press=KnormPress(), compression_interval=16, target_size=64)
    assert (d.compression_interval, d.target_size, d.hidden_states_buffer_size) == (16, 64, 256)
    assert d._config().canonical_spec() == "decoding(knorm):compression_interval=16,target_size=64,hidden_states_buffer_size=256"
    assert d.compression_ratio == 0.0
    c = CompressionRatioDecodingPress(base_press=StreamingLLMPress(), target_compression_ratio=0.3)
    assert c._config().compression_ratio == pytest.approx(0.3)
    assert CAMPress(base_press=TOVAPress()).merge_budget == 32
    p = PrefillDecodingPress(prefilling_press=SnapKVPress(0.5), decoding_press=d)
    assert p._config().spec.startswith("prefill_decoding(snapkv")
    assert PrefillDecodingPress(decoding_press=d)._config().spec == d._config().spec  # decoding-only = DecodingPress
    assert KeyDiffPress(0.5).spec == "keydiff"
    with pytest.raises(ValueError, match="set from the target"):
        DecodingPress(base_press=KnormPress(0.5))
    with pytest.raises(ValueError, match="compression_interval"):
        DecodingPress(base_press=KnormPress(), compression_interval=0)

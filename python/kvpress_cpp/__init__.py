"""kvpress_cpp: kvpress's API (pipeline, press classes) on kvpress.cpp's C++ engine for GGUF models.

    from kvpress_cpp import pipeline, ExpectedAttentionPress
    pipe = pipeline("kv-press-text-generation", model="models/kvpress-needle-2m.gguf")
    answer = pipe(context, question=question, press=ExpectedAttentionPress(compression_ratio=0.5))["answer"]

Library errors raise ``kvpress_cpp.Error`` (a RuntimeError) with the library's one-line message; bad
press arguments raise ValueError or TypeError.
"""
from . import _core
from ._core import Error, PressConfig, Session, press_spec_help
from ._pipeline import Engine, KVPressTextGenerationPipeline, pipeline
from ._presses import BasePress, ScorerPress, class_name, press_classes

__version__ = _core.__version__

_classes = press_classes()  # KnormPress, SnapKVPress, ... from the C++ press registry
globals().update(_classes)
PRESS_CLASSES = sorted(_classes)

__all__ = ["Engine", "Error", "KVPressTextGenerationPipeline", "PressConfig", "Session", "BasePress", "ScorerPress",
           "pipeline", "press_spec_help", "class_name", "PRESS_CLASSES"] + PRESS_CLASSES

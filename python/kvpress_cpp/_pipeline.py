"""kvpress's pipeline call, ``pipeline("kv-press-text-generation", model=...)``, on the C++ engine."""
from . import _core
from ._presses import as_config

TASK = "kv-press-text-generation"


def _kv_types(cache):
    """kvpress's `cache` argument: None (f16 keys and values), a KV type name for both ("q8_0"), or a
    (keys, values) pair of names."""
    if cache is None:
        return "f16", "f16"
    if isinstance(cache, str):
        return cache, cache
    if isinstance(cache, (tuple, list)) and len(cache) == 2 and all(isinstance(c, str) for c in cache):
        return cache[0], cache[1]
    raise TypeError(f"cache must be None, a KV type name such as 'q8_0', or a (keys, values) pair, got {cache!r}")


class Engine(_core.Engine):
    """A loaded GGUF model (memory-mapped), its tokenizer and a thread pool; shared by pipelines and sessions.

    ``Engine(model, n_threads=0)``: n_threads 0 uses the hardware threads, at most 8.
    """

    def session(self, context, press=None, cache=None, max_context_length=None, use_chat_template=True,
                record_scores=False, prefill_chunk=0):
        """Prefill and compress `context` once; ask questions on it with ``Session.ask``. prefill_chunk > 0
        reads the context that many tokens at a time, compressing after each chunk."""
        k, v = _kv_types(cache)
        return _core.Session(self, context, as_config(press), k, v, max_context_length, use_chat_template,
                             record_scores, prefill_chunk)


class KVPressTextGenerationPipeline:
    """kvpress's KVPressTextGenerationPipeline: compress a context once, answer questions on that cache."""

    def __init__(self, engine):
        self.engine = engine
        self.last_stats = None  # sizes and timings of the last call

    def __call__(self, context, question=None, questions=None, answer_prefix=None, press=None,
                 max_new_tokens=50, max_context_length=None, cache=None, query_aware=False, prefill_chunk=0):
        """Returns ``{"answer": str}``, or ``{"answers": [str, ...]}`` when `questions` is given."""
        if question is not None and questions is not None:
            raise ValueError("Either question or questions should be provided, not both.")
        if questions is not None and (isinstance(questions, str) or not all(isinstance(q, str) for q in questions)):
            raise TypeError("questions must be a list of strings")
        asked = list(questions) if questions is not None else [question if question is not None else ""]
        k, v = _kv_types(cache)
        result = _core.answer(self.engine, context, asked, as_config(press), answer_prefix or "", max_new_tokens,
                              max_context_length, query_aware, k, v, prefill_chunk)
        self.last_stats = result["stats"]
        if questions is not None:
            return {"answers": result["answers"]}
        return {"answer": result["answers"][0]}

    def session(self, context, press=None, **kwargs):
        """The steps of a call one by one: see ``Engine.session``."""
        return self.engine.session(context, press=press, **kwargs)


def pipeline(task=TASK, model=None, n_threads=0, **kwargs):
    """``pipeline("kv-press-text-generation", model="models/kvpress-needle-2m.gguf")``, as transformers'
    pipeline() with kvpress installed; `model` is a GGUF file path or an Engine."""
    if task != TASK:
        raise ValueError(f"unknown task '{task}' (kvpress_cpp provides '{TASK}')")
    if kwargs:
        raise TypeError(f"pipeline() got unexpected arguments: {', '.join(sorted(kwargs))}")
    if model is None:
        raise ValueError("pipeline() needs model=, a GGUF file such as models/kvpress-needle-2m.gguf")
    engine = model if isinstance(model, _core.Engine) else Engine(str(model), n_threads)
    return KVPressTextGenerationPipeline(engine)

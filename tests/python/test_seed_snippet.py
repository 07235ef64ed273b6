"""The seed's snippet works as written, and Python answers are the CLI's answers for the same inputs."""
import pytest

from conftest import MODEL, run_cli


def test_seed_snippet_answers_needle_questions(needle_samples):
    # The snippet as written, plus RULER's answer prefix (the shipped model is a retrieval model trained
    # to answer after it; without it, it rambles). The full cache answers every sample; plain
    # ExpectedAttention at 0.5 most of them (models/README.md: compression costs accuracy).
    from kvpress_cpp import pipeline, ExpectedAttentionPress
    pipe = pipeline("kv-press-text-generation", model=str(MODEL))
    press = ExpectedAttentionPress(compression_ratio=0.5)
    right = {"full": 0, "pressed": 0}
    for sample in needle_samples:
        context, question, prefix = sample["context"], sample["question"], sample["answer_prefix"]
        full = pipe(context, question=question, answer_prefix=prefix)["answer"]
        answer = pipe(context, question=question, press=press, answer_prefix=prefix)["answer"]
        right["full"] += sample["answers"][0] in full
        right["pressed"] += sample["answers"][0] in answer
    assert right["full"] == len(needle_samples), right
    assert right["pressed"] >= len(needle_samples) // 2, right


def test_seed_snippet_without_answer_prefix_returns_text(needle_samples, pipe):
    from kvpress_cpp import ExpectedAttentionPress
    out = pipe(needle_samples[0]["context"], question=needle_samples[0]["question"],
               press=ExpectedAttentionPress(compression_ratio=0.5))
    assert set(out) == {"answer"} and isinstance(out["answer"], str)


@pytest.mark.parametrize("press_class,kwargs,cli_press", [
    ("ExpectedAttentionPress", {"compression_ratio": 0.5}, "expected_attention_press"),
    ("SnapKVPress", {"compression_ratio": 0.5, "window_size": 32}, "snapkv:window_size=32"),
    ("KnormPress", {"compression_ratio": 0.25}, "knorm"),
    ("StreamingLLMPress", {"compression_ratio": 0.5, "n_sink": 8}, "streaming_llm:n_sink=8"),
])
def test_python_answer_equals_kvpress_answer(tmp_path, needle_samples, pipe, press_class, kwargs, cli_press):
    import kvpress_cpp
    sample = needle_samples[1]
    press = getattr(kvpress_cpp, press_class)(**kwargs)
    py = pipe(sample["context"], question=sample["question"], answer_prefix=sample["answer_prefix"], press=press,
              max_new_tokens=20)["answer"]
    context_file = tmp_path / "context.txt"
    context_file.write_text(sample["context"])
    cli, rc, err = run_cli("answer", "--model", str(MODEL), "--context-file", str(context_file),
                           "--question", sample["question"], "--answer-prefix", sample["answer_prefix"],
                           "--press", cli_press, "--compression-ratio", str(kwargs["compression_ratio"]),
                           "--max-new-tokens", "20", "--quiet")
    assert rc == 0, err
    assert py == cli


def test_questions_give_answers_in_order_and_equal_single_calls(needle_samples, pipe):
    from kvpress_cpp import KnormPress
    s = needle_samples[2]
    qs = [s["question"], "What is the first sentence?"]
    many = pipe(s["context"], questions=qs, press=KnormPress(0.5), max_new_tokens=12)
    assert set(many) == {"answers"} and len(many["answers"]) == 2
    for q, a in zip(qs, many["answers"]):
        assert pipe(s["context"], question=q, press=KnormPress(0.5), max_new_tokens=12)["answer"] == a


def test_pipeline_options(needle_samples, pipe):
    s = needle_samples[0]
    pipe(s["context"], question=s["question"], max_new_tokens=4, max_context_length=300, cache="q8_0")
    assert pipe.last_stats["context_tokens"] == 300
    assert pipe.last_stats["kv_bytes"] == pipe.last_stats["kv_bytes_full"]  # no press
    with pytest.raises(ValueError, match="not both"):
        pipe(s["context"], question="a", questions=["b"])

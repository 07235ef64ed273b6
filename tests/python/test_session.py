"""Sessions: one compressed prefill, many questions; kept positions and scores as numpy arrays; sessions
of one engine on several threads (the GIL is released during compute)."""
import threading

import numpy as np
import pytest

import kvpress_cpp
from kvpress_cpp import KnormPress, SnapKVPress


@pytest.fixture(scope="module")
def engine(model_path):
    return kvpress_cpp.Engine(model_path, n_threads=2)


def test_session_matches_the_pipeline(engine, needle_samples, pipe):
    s = needle_samples[0]
    press = SnapKVPress(compression_ratio=0.5)
    session = engine.session(s["context"], press=press)
    a = session.ask(s["question"], answer_prefix=s["answer_prefix"], max_new_tokens=16)
    b = pipe(s["context"], question=s["question"], answer_prefix=s["answer_prefix"], press=press,
             max_new_tokens=16)["answer"]
    assert a == b
    assert session.ask(s["question"], answer_prefix=s["answer_prefix"], max_new_tokens=16) == a  # cache restored


def test_kept_positions_and_mask(engine, needle_samples):
    session = engine.session(needle_samples[0]["context"], press=KnormPress(compression_ratio=0.5))
    n = session.stats["context_tokens"]
    mask = session.kept_mask()
    assert mask.shape == (session.n_layers, session.n_heads_kv, n) and mask.dtype == np.bool_
    kept = int(n * 0.5)
    assert (mask.sum(axis=2) == kept).all()
    p = session.kept_positions(1, 0)
    assert p.dtype == np.int32 and len(p) == kept and (np.diff(p) > 0).all()
    assert mask[1, 0, p].all()
    assert session.stats["kv_bytes"] * 2 == pytest.approx(session.stats["kv_bytes_full"], rel=0.01)


def test_scores_are_the_ones_used(engine, needle_samples):
    session = engine.session(needle_samples[0]["context"], press=KnormPress(compression_ratio=0.5),
                             record_scores=True)
    scores = session.scores()
    n = session.stats["context_tokens"]
    assert scores.shape == (session.n_layers, session.n_heads_kv, n) and scores.dtype == np.float32
    mask = session.kept_mask()
    for layer in range(session.n_layers):
        for head in range(session.n_heads_kv):
            s, m = scores[layer, head], mask[layer, head]
            assert s[m].min() >= s[~m].max()  # every kept entry scored at least as high as every pruned one
    assert engine.session("short text", press=KnormPress(0.5)).scores() is None


def test_sessions_on_several_threads_agree(engine, needle_samples):
    s = needle_samples[1]
    expected = engine.session(s["context"], press=KnormPress(0.5)).ask(s["question"], max_new_tokens=8)
    results = [None] * 3

    def work(i):
        results[i] = engine.session(s["context"], press=KnormPress(0.5)).ask(s["question"], max_new_tokens=8)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_engine_tokenizes_and_generates(engine):
    info = engine.info
    assert info["arch"] == "llama" and info["n_layers"] >= 2
    ids = engine.tokenize("The grass is green.")
    assert engine.detokenize(ids) == "The grass is green."
    assert isinstance(engine.generate("The grass is", max_new_tokens=4), str)


def test_exact_matmul_is_a_no_op_on_float_weights(engine, model_path, needle_samples):
    # The default model is F32: no int8 path exists for it, so both engines answer token for token alike.
    exact = kvpress_cpp.Engine(model_path, n_threads=2, exact_matmul=True)
    s = needle_samples[0]
    press = KnormPress(0.5)
    assert exact.session(s["context"], press=press).ask(s["question"], max_new_tokens=12) == \
        engine.session(s["context"], press=press).ask(s["question"], max_new_tokens=12)


def test_saved_session_answers_as_the_original(engine, needle_samples, tmp_path):
    s = needle_samples[0]
    session = engine.session(s["context"], press=SnapKVPress(compression_ratio=0.5), cache="q8_0")
    path = str(tmp_path / "ctx.kvc")
    assert session.save(path) == (tmp_path / "ctx.kvc").stat().st_size
    loaded = kvpress_cpp.Session.load(engine, path)
    assert loaded.stats["kv_bytes"] == session.stats["kv_bytes"]
    assert loaded.ask(s["question"], max_new_tokens=12) == session.ask(s["question"], max_new_tokens=12)
    (tmp_path / "bad.kvc").write_bytes(b"KVPCACHE" + b"\0" * 40)
    with pytest.raises(kvpress_cpp.Error, match="bad.kvc: "):
        kvpress_cpp.Session.load(engine, str(tmp_path / "bad.kvc"))


def test_conversation_keeps_turns_and_a_decoding_press_bounds_them(engine, needle_samples):
    s = needle_samples[0]
    full = engine.session(s["context"], press=None)
    press = kvpress_cpp.DecodingPress(base_press=KnormPress(), compression_interval=8, target_size=64)
    bounded = engine.session(s["context"], press=press)
    for _ in range(3):
        full.converse(s["question"], max_new_tokens=12)
        bounded.converse(s["question"], max_new_tokens=12)
    assert full.turns == 3 and bounded.turns == 3
    n = full.stats["context_tokens"]
    assert all(len(bounded.kept_positions(0, h)) <= 64 + 8 for h in range(bounded.n_heads_kv))
    assert len(full.kept_positions(0, 0)) > n

"""The tokenizer.ggml.* metadata of a SentencePiece model, written the way llama-family GGUF files store it."""
import sentencepiece as spm

import gguf_io
from common import BOS_ID, EOS_ID, UNK_ID

# llama.cpp / GGUF token types.
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_USER_DEFINED, TYPE_UNUSED, TYPE_BYTE = 1, 2, 3, 4, 5, 6


def load(model_path):
    return spm.SentencePieceProcessor(model_file=str(model_path))


def vocab_entries(sp):
    """(tokens, scores, types) in id order."""
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(float(sp.get_score(i)))
        if sp.is_unknown(i):
            types.append(TYPE_UNKNOWN)
        elif sp.is_control(i):
            types.append(TYPE_CONTROL)
        elif sp.is_byte(i):
            types.append(TYPE_BYTE)
        elif sp.is_unused(i):
            types.append(TYPE_UNUSED)
        else:
            types.append(TYPE_NORMAL)
    return tokens, scores, types


def add_tokenizer_metadata(writer, sp):
    """SPM ("llama") tokenizer keys: tokens, scores, types, special ids, BOS added, no EOS added, a space
    prefix (SentencePiece's add_dummy_prefix). No chat template: prompts are plain text."""
    if sp.unk_id() != UNK_ID or sp.bos_id() != BOS_ID or sp.eos_id() != EOS_ID:
        raise ValueError("the SentencePiece model must use unk=0, bos=1, eos=2")
    tokens, scores, types = vocab_entries(sp)
    writer.add_string("tokenizer.ggml.model", "llama")
    writer.add_string("tokenizer.ggml.pre", "default")
    writer.add_array("tokenizer.ggml.tokens", gguf_io.STRING, tokens)
    writer.add_array("tokenizer.ggml.scores", gguf_io.FLOAT32, scores)
    writer.add_array("tokenizer.ggml.token_type", gguf_io.INT32, types)
    writer.add_uint32("tokenizer.ggml.bos_token_id", BOS_ID)
    writer.add_uint32("tokenizer.ggml.eos_token_id", EOS_ID)
    writer.add_uint32("tokenizer.ggml.unknown_token_id", UNK_ID)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_bool("tokenizer.ggml.add_eos_token", False)
    writer.add_bool("tokenizer.ggml.add_space_prefix", True)


def byte_vocab_gguf(path):
    """A vocab-only GGUF of just <unk>, <s>, </s> and the 256 byte tokens: a stand-in token counter for
    generating tokenizer-training text before our own tokenizer exists."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL] + [TYPE_BYTE] * 256
    w = gguf_io.GgufWriter()
    w.add_string("general.architecture", "llama")
    w.add_string("general.name", "byte vocab (bootstrap)")
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", gguf_io.STRING, tokens)
    w.add_array("tokenizer.ggml.scores", gguf_io.FLOAT32, [0.0] * len(tokens))
    w.add_array("tokenizer.ggml.token_type", gguf_io.INT32, types)
    w.add_uint32("tokenizer.ggml.bos_token_id", BOS_ID)
    w.add_uint32("tokenizer.ggml.eos_token_id", EOS_ID)
    w.add_uint32("tokenizer.ggml.unknown_token_id", UNK_ID)
    w.write(path)

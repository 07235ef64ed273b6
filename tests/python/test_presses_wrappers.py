"""The wrapper presses of spec §2.14-2.22 under kvpress's class names and constructor arguments."""
import pytest

import kvpress_cpp
from kvpress_cpp import (BlockPress, ChunkKVPress, ChunkPress, CriticalAdaKVPress, CriticalKVPress, DMSPress,
                         KeyDiffPress, KeyRerotationPress, KnormPress, MergingPress, PerLayerCompressionPress,
                         SnapKVPress)


@pytest.mark.parametrize("make,spec", [
    (lambda: CriticalKVPress(SnapKVPress(0.5)), "criticalkv(snapkv:window_size=64,kernel_size=5):epsilon=1e-04,first_stage_ratio=0.5"),
    (lambda: CriticalAdaKVPress(press=KnormPress(0.5), alpha_safeguard=0.1),
     "critical_adakv(knorm):alpha_safeguard=0.1,epsilon=1e-04,first_stage_ratio=0.5"),
    (lambda: ChunkKVPress(press=KnormPress(0.5), chunk_length=10), "chunkkv(knorm):chunk_length=10"),
    (lambda: ChunkPress(press=KnormPress(0.5)), "chunk(knorm):chunk_length=1024"),
    (lambda: BlockPress(press=KeyDiffPress(0.5), block_size=128), "block(keydiff):block_size=128"),
    (lambda: KeyRerotationPress(press=KnormPress(0.5)), "key_rerotation(knorm)"),
    (lambda: MergingPress(KnormPress(0.5), merge_fraction=0.75),
     "merging(knorm):similarity_threshold=0,merge_fraction=0.75"),
])
def test_wrappers_construct_with_kvpress_arguments(make, spec):
    press = make()
    assert press.compression_ratio == 0.5
    assert press._config().canonical_spec() == spec


def test_ratio_lists_and_thresholds():
    p = PerLayerCompressionPress(press=KnormPress(), compression_ratios=[0.1, 0.5, 1.0])
    assert p._config().canonical_spec() == "per_layer_compression(knorm):compression_ratios=0.1;0.5;1"
    d = DMSPress(press=KnormPress(), threshold=-2.5, sliding_window_size=64)
    assert d._config().canonical_spec() == "dms(knorm):threshold=-2.5,sliding_window_size=64,decoding=false"
    with pytest.raises(ValueError, match="compression_ratios"):
        PerLayerCompressionPress(press=KnormPress(), compression_ratios=[0.1, 1.5])
    with pytest.raises(ValueError, match="needs threshold"):
        DMSPress(press=KnormPress())

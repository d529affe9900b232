"""Storage for containers' filesystems: the layer store and the safe layer unpacker."""

from pycontain.storage.layers import LayerRecord, LayerSource, LayerStore, chain_ids
from pycontain.storage.unpack import OVERRIDE_XATTR, Unpacked, UnpackOptions, apply_layer

__all__ = ["OVERRIDE_XATTR", "LayerRecord", "LayerSource", "LayerStore", "UnpackOptions",
           "Unpacked", "apply_layer", "chain_ids"]

"""Storage for containers' filesystems: the layer store and the safe layer unpacker.

The names load on first use (PEP 562): a start on an image reads the layer store's records
and needs neither the unpacker (``tarfile``, the decompressors) nor the volumes.
"""

from __future__ import annotations

from pycontain._lazy import loader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycontain.storage.layers import LayerRecord, LayerSource, LayerStore, chain_ids
    from pycontain.storage.options import UnpackOptions
    from pycontain.storage.unpack import OVERRIDE_XATTR, Unpacked, apply_layer

__all__ = ["OVERRIDE_XATTR", "LayerRecord", "LayerSource", "LayerStore", "UnpackOptions",
           "Unpacked", "apply_layer", "chain_ids"]

__getattr__ = loader(__name__, {
    "LayerRecord": "layers", "LayerSource": "layers", "LayerStore": "layers",
    "chain_ids": "layers", "UnpackOptions": "options", "OVERRIDE_XATTR": "unpack",
    "Unpacked": "unpack", "apply_layer": "unpack"})

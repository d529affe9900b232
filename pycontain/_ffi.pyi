# The compiled cffi module (csrc/ffibuild.py, out-of-line API mode): ``ffi`` is its FFI
# instance, ``lib`` the C functions and constants of csrc/pycontain.h between its CDEF
# markers.  Wrapped 1:1, with types, by pycontain/lowlevel.
from typing import Any

import cffi

ffi: cffi.FFI
lib: Any

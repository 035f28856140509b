"""Branch hints for the kernels.

Numba hands LLVM no branch probabilities, so LLVM lays out a loop as if every
branch were a coin flip and places spills and jumps on the hot path of the
rare ones. ``unlikely(cond)`` wraps a condition in ``llvm.expect``, which LLVM
turns into branch weights: the rare block moves out of the way of the common one.
It changes no result, only code layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba.core import types
from numba.core.extending import intrinsic

_I1 = ir.IntType(1)


@intrinsic
def _unlikely(typingctx: Any, cond: Any) -> Any:
    """``cond`` unchanged, marked as usually false (use as ``if unlikely(x):``)."""
    if not isinstance(cond, types.Boolean):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        expect = builder.module.declare_intrinsic("llvm.expect", [_I1], ir.FunctionType(_I1, [_I1, _I1]))
        return builder.call(expect, [args[0], ir.Constant(_I1, 0)])

    return types.boolean(types.boolean), codegen


# Typed as what it is at the call site: numba supplies ``typingctx`` itself.
unlikely = cast(Callable[[bool], bool], _unlikely)

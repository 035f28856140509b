"""Static review of strategy code for the classic backtesting bugs.

Parses the code with `ast` (never runs it) and looks for look-ahead
(`shift(-n)`, centred rolling windows, `bfill`, indexing at `i + k`), missing
costs and unseeded randomness. Code that does not parse is scanned with
regular expressions for the same patterns so the user still gets findings.
"""

from __future__ import annotations

import ast
import re

from agents.outputs import CodeFinding, CodeReview, Severity
from agents.tasks import CodeReviewInput

__all__ = ["review_code"]

_RANDOM_FUNCS = {
    "random",
    "rand",
    "randn",
    "randint",
    "choice",
    "shuffle",
    "normal",
    "uniform",
    "sample",
    "permutation",
}
_COST_WORDS = re.compile(r"fee|commission|slippage|cost|spread", re.IGNORECASE)


def _negative_number(node: ast.expr | None) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return (
            isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and node.operand.value > 0
        )
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and node.value < 0


def _attr_chain(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _fills_backwards(node: ast.Call) -> bool:
    """fillna(method="bfill" | "backfill")."""
    return any(
        kw.arg == "method"
        and isinstance(kw.value, ast.Constant)
        and kw.value.value in ("bfill", "backfill")
        for kw in node.keywords
    )


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[CodeFinding] = []
        self.random_calls: list[tuple[int, str]] = []
        self.seeded = False

    def _add(self, rule: str, severity: Severity, line: int, message: str, fix: str) -> None:
        self.findings.append(
            CodeFinding(rule=rule, severity=severity, line=line, message=message, fix=fix)
        )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = (
            func.attr
            if isinstance(func, ast.Attribute)
            else func.id
            if isinstance(func, ast.Name)
            else ""
        )
        chain = _attr_chain(func) if isinstance(func, ast.Attribute | ast.Name) else ""
        if name == "shift":
            self._check_shift(node)
        if name == "rolling":
            self._check_rolling(node)
        if name in ("bfill", "backfill") or (name == "fillna" and _fills_backwards(node)):
            self._add(
                "backfill",
                "warning",
                node.lineno,
                "Back-filling copies later values into earlier bars (look-ahead at gaps).",
                "Forward-fill (ffill) or drop the missing bars.",
            )
        self._track_randomness(node, name, chain)
        self.generic_visit(node)

    def _check_shift(self, node: ast.Call) -> None:
        arg = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg == "periods":
                arg = kw.value
        if _negative_number(arg):
            self._add(
                "lookahead_shift",
                "critical",
                node.lineno,
                "shift() with a negative period pulls future values into the current bar.",
                "Use shift(1) (past values) for signals; a signal on bar i may use data up to bar i's close only.",
            )

    def _check_rolling(self, node: ast.Call) -> None:
        for kw in node.keywords:
            if kw.arg == "center" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                self._add(
                    "centred_window",
                    "critical",
                    node.lineno,
                    "rolling(center=True) averages future bars into the current one.",
                    "Drop center=True: trailing windows only.",
                )

    def _track_randomness(self, node: ast.Call, name: str, chain: str) -> None:
        # Collected, not reported here: a seed anywhere in the file excuses every call.
        if name in ("seed", "manual_seed") or (
            name in ("default_rng", "RandomState", "Random") and (node.args or node.keywords)
        ):
            self.seeded = True
        elif name == "default_rng" or (
            name in _RANDOM_FUNCS and ("random" in chain.split(".")[:-1] or chain.startswith("rng"))
        ):
            self.random_calls.append((node.lineno, chain or name))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        if (
            isinstance(index, ast.BinOp)
            and isinstance(index.op, ast.Add)
            and isinstance(index.right, ast.Constant)
            and isinstance(index.right.value, int)
            and index.right.value > 0
            and isinstance(index.left, ast.Name)
        ):
            target = (
                _attr_chain(node.value)
                if isinstance(node.value, ast.Attribute | ast.Name)
                else "a series"
            )
            self._add(
                "future_index",
                "critical",
                node.lineno,
                f"{target}[{index.left.id} + {index.right.value}] reads a later bar than the one being decided.",
                "Decide on bar i with data up to i; fill at i + 1's open in the engine, not by indexing ahead.",
            )
        self.generic_visit(node)


def _regex_scan(code: str) -> list[CodeFinding]:
    findings = []
    patterns = [
        (
            r"\.shift\(\s*(periods\s*=\s*)?-\s*\d",
            "lookahead_shift",
            "shift() with a negative period pulls future values in.",
        ),
        (r"center\s*=\s*True", "centred_window", "A centred window uses future bars."),
        (r"\[\s*\w+\s*\+\s*\d+\s*\]", "future_index", "Indexing at i + k reads a later bar."),
    ]
    for lineno, line in enumerate(code.splitlines(), start=1):
        for pattern, rule, message in patterns:
            if re.search(pattern, line):
                findings.append(
                    CodeFinding(
                        rule=rule,
                        severity="critical",
                        line=lineno,
                        message=message,
                        fix="Use only past and current bars.",
                    )
                )
    return findings


def review_code(task: CodeReviewInput) -> CodeReview:
    """Findings sorted by line; `passed` is false when any finding is critical."""
    code = task.code
    findings: list[CodeFinding] = []
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        findings.append(
            CodeFinding(
                rule="syntax_error",
                severity="critical",
                line=exc.lineno,
                message=f"The code does not parse: {exc.msg}.",
                fix="Fix the syntax; the rest was scanned textually.",
            )
        )
        findings.extend(_regex_scan(code))
    else:
        visitor = _Visitor()
        visitor.visit(tree)
        findings.extend(visitor.findings)
        if visitor.random_calls and not visitor.seeded:
            line, call = visitor.random_calls[0]
            findings.append(
                CodeFinding(
                    rule="unseeded_randomness",
                    severity="warning",
                    line=line,
                    message=f"{call}() without a seed: results change from run to run.",
                    fix="Create np.random.default_rng(seed) once and pass it around.",
                )
            )
    if not _COST_WORDS.search(code):
        findings.append(
            CodeFinding(
                rule="missing_costs",
                severity="warning",
                line=None,
                message="No fee, commission or slippage anywhere in the code.",
                fix="Model taker fees (Bybit 0.055 %) and slippage, or pass them to the engine's config.",
            )
        )
    findings.sort(key=lambda f: (f.line if f.line is not None else 10**9, f.rule))
    critical = [f for f in findings if f.severity == "critical"]
    if not findings:
        summary = "No look-ahead, cost or randomness problems found."
    else:
        rules = ", ".join(dict.fromkeys(f.rule for f in findings))
        summary = f"{len(findings)} finding(s), {len(critical)} critical: {rules}."
    return CodeReview(summary=summary, passed=not critical, findings=findings)

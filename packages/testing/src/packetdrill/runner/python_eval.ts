/**
 * Evaluates the `assert` statements of a `%{ … }%` block over a `tcp_info` snapshot, with
 * Python's semantics for the subset the parser accepts (chained comparisons, `and`/`or`
 * short-circuit, `//` floor division, `%` formatting of strings).
 * @see packetdrill gtests/net/packetdrill/code.c
 * @packageDocumentation
 */
import type { CodeBlock, PyExpr } from "../ast.js";
import { formatPyExpr } from "../format.js";
import { PY_CONSTANTS } from "./symbols.js";

/** A Python value the subset can produce. */
export type PyValue = number | string | boolean | null;

/** A name the block uses that the snapshot does not have. */
export class PyNameError extends Error {}

function truthy(v: PyValue): boolean {
  return v !== null && v !== false && v !== 0 && v !== "";
}

function num(v: PyValue, e: PyExpr): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new PyNameError(`${formatPyExpr(e)} is not a number`);
}

function pyStr(v: PyValue): string {
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  return String(v);
}

/** `'cwnd=%d' % x`: %d, %s, %u, %x and %% are enough for the scripts. */
function percentFormat(fmt: string, arg: PyValue): string {
  return fmt.replace(/%([%dsuxi])/g, (_, c: string) => {
    if (c === "%") return "%";
    if (c === "x") return Math.trunc(Number(arg)).toString(16);
    if (c === "s") return pyStr(arg);
    return String(Math.trunc(Number(arg)));
  });
}

/** Evaluates one expression with `names` in scope (the tcp_info fields). */
export function evalPy(e: PyExpr, names: Readonly<Record<string, PyValue>>): PyValue {
  switch (e.kind) {
    case "num":
    case "str":
    case "const":
      return e.value;
    case "name": {
      if (Object.hasOwn(names, e.id)) return names[e.id]!;
      if (Object.hasOwn(PY_CONSTANTS, e.id)) return PY_CONSTANTS[e.id]!;
      throw new PyNameError(`name '${e.id}' is not defined`);
    }
    case "attr":
      throw new PyNameError(`attribute access ${formatPyExpr(e)} is not supported`);
    case "unary": {
      const v = evalPy(e.operand, names);
      if (e.op === "not") return !truthy(v);
      const n = num(v, e.operand);
      return e.op === "-" ? -n : e.op === "~" ? ~n : n;
    }
    case "bool": {
      let v: PyValue = e.op === "and";
      for (const x of e.values) {
        v = evalPy(x, names);
        if (e.op === "and" ? !truthy(v) : truthy(v)) return v;
      }
      return v;
    }
    case "compare": {
      let left = evalPy(e.left, names);
      for (let i = 0; i < e.ops.length; i++) {
        const right = evalPy(e.comparators[i]!, names);
        const a = left as number;
        const b = right as number;
        let ok: boolean;
        switch (e.ops[i]!) {
          case "<":
            ok = a < b;
            break;
          case "<=":
            ok = a <= b;
            break;
          case ">":
            ok = a > b;
            break;
          case ">=":
            ok = a >= b;
            break;
          case "==":
            ok = left === right;
            break;
          case "!=":
            ok = left !== right;
            break;
        }
        if (!ok) return false;
        left = right;
      }
      return true;
    }
    case "binary": {
      const l = evalPy(e.left, names);
      const r = evalPy(e.right, names);
      if (e.op === "%" && typeof l === "string") return percentFormat(l, r);
      if (e.op === "+" && typeof l === "string" && typeof r === "string") return l + r;
      const a = num(l, e.left);
      const b = num(r, e.right);
      switch (e.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "/":
          return a / b;
        case "//":
          return Math.floor(a / b);
        case "%":
          return a - b * Math.floor(a / b);
        case "**":
          return a ** b;
        case "|":
          return a | b;
        case "&":
          return a & b;
        case "^":
          return a ^ b;
        case "<<":
          return a << b;
        case ">>":
          return a >> b;
      }
    }
  }
}

/**
 * Runs a block's asserts in order. Returns `undefined` when all hold, else a sentence like
 * Python's: `assert tcpi_snd_cwnd == 10 failed: 12`.
 */
export function runAsserts(
  code: CodeBlock,
  names: Readonly<Record<string, PyValue>>,
): string | undefined {
  for (const a of code.statements) {
    let ok: boolean;
    try {
      ok = truthy(evalPy(a.test, names));
    } catch (error) {
      return `${(error as Error).message} (in assert ${formatPyExpr(a.test)})`;
    }
    if (ok) continue;
    let message = "";
    if (a.message !== undefined) {
      try {
        message = `: ${pyStr(evalPy(a.message, names))}`;
      } catch (error) {
        message = `: (${(error as Error).message})`;
      }
    }
    return `assert ${formatPyExpr(a.test)} failed${message}`;
  }
  return undefined;
}

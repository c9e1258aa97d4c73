/**
 * Reverse-mode differentiation over the traced graph: walk the nodes between `loss` and the requested
 * tensors in reverse topological order, ask each op's gradient rule (ops/) for its input gradients and
 * sum contributions that reach the same tensor. A gradient that reaches an op without a rule is an error
 * (as in tinygrad): silently dropping it would train the layers before that op on a wrong gradient.
 */

import { opDef } from "./op.js";
import { fmt, ShapeError } from "./shape.js";
import { type Node, scalar, type Tensor } from "./tensor.js";

/** Nodes reachable from `roots`, inputs before the nodes that use them. */
export function topoSort(roots: readonly Tensor[]): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, number][] = roots.map((t) => [t.node, 0]);
  // Iterative DFS: deep graphs (hundreds of layers) must not overflow the JS stack.
  while (stack.length) {
    const top = stack[stack.length - 1] as [Node, number];
    const [node, i] = top;
    if (i === 0 && seen.has(node)) {
      stack.pop();
      continue;
    }
    seen.add(node);
    if (i < node.inputs.length) {
      top[1]++;
      const next = (node.inputs[i] as Tensor).node;
      if (!seen.has(next)) stack.push([next, 0]);
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order;
}

/**
 * Gradients of a scalar `loss` with respect to each tensor in `wrt` (zeros-free: a tensor the loss does
 * not depend on gets an error, since that is almost always a bug in model code).
 */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.rank !== 0) throw new ShapeError(`grad: loss must be a scalar, got shape ${fmt(loss.shape)}`);
  const order = topoSort([loss]);
  // Only nodes that depend on some requested tensor carry gradients.
  const live = new Set<Tensor>(wrt);
  const needed = new Set<Node>();
  for (const node of order) {
    if (node.inputs.some((t) => live.has(t))) {
      needed.add(node);
      for (const o of node.outputs) live.add(o);
    }
  }
  const grads = new Map<Tensor, Tensor>([[loss, scalar(1, loss.dtype)]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i] as Node;
    if (!needed.has(node)) continue;
    const outGrads = node.outputs.map((o) => grads.get(o));
    if (outGrads.every((g) => g === undefined)) continue;
    const rule = opDef(node.op).grad;
    if (!rule)
      throw new ShapeError(
        `grad: op '${node.op}' has no gradient rule, and the loss's gradient flows through it` +
          ` (${node.inputs.map((t) => `${fmt(t.shape)} ${t.dtype}`).join(", ")})\n  at ${node.site}`,
      );
    const inGrads = rule(node, outGrads);
    node.inputs.forEach((t, k) => {
      const g = inGrads[k];
      if (!g || !live.has(t)) return;
      const prev = grads.get(t);
      grads.set(t, prev ? prev.add(g) : g);
    });
  }
  return wrt.map((t) => {
    const g = grads.get(t);
    if (!g) throw new ShapeError(`grad: the loss does not depend on ${t} (is it used in the forward pass?)`);
    return g;
  });
}

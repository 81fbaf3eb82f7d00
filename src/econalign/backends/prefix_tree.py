"""Which token prefixes to compute once when scoring many prompts, and how to batch the rows.

A battery's prompts share long runs (the chat template, a family's instructions, a lottery's
description with only the sure amount varying), so each prompt needs little more than its own
distinct tokens. The plan is a tree: a node extends its parent's prefix by `tokens`; `prompts`
hang on the node and run only their tokens after its prefix. A branch gets its own node when
that runs fewer tokens than leaving its prompts on the parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CALL_COST = 8  # tokens' worth of time one forward call costs beyond its tokens (dispatch, small matmuls)
ROW_COST = 2  # and one more row in a batch (its bookkeeping, some padding)


@dataclass
class Node:
    tokens: list[int]  # appended to the parent's prefix
    depth: int  # prefix length after `tokens`
    children: list[Node] = field(default_factory=list)
    prompts: list[int] = field(default_factory=list)  # indices of the prompts run after this prefix
    cost: int = 0  # tokens run for this subtree


def plan(seqs: list[list[int]]) -> Node:
    """The prefix tree to run for the last position of every sequence (each non-empty)."""
    if not seqs or min(map(len, seqs)) == 0:
        raise ValueError("every prompt needs at least one token")
    return _node(seqs, sorted(range(len(seqs)), key=lambda i: seqs[i]), 0)


def _node(seqs, items, depth) -> Node:
    shared = _shared_length(seqs, items, depth)
    node = Node(tokens=seqs[items[0]][depth:shared], depth=shared)
    groups = _split(seqs, items, shared) if len(items) > 1 else []
    if len(groups) == 1 and shared == depth:  # some prompt has nothing left to share
        groups = []
    for group in groups:
        child = _node(seqs, group, shared) if len(group) > 1 else None
        if child is not None and child.cost < _suffix_tokens(seqs, group, shared):
            node.children.append(child)
        else:
            node.prompts += group
    if not groups:
        node.prompts = list(items)
    node.cost = (
        (len(node.tokens) + ROW_COST if node.tokens else 0)
        + sum(c.cost for c in node.children)
        + _suffix_tokens(seqs, node.prompts, shared)
    )
    return node


def _shared_length(seqs, items, depth) -> int:
    """Tokens all items share, leaving each at least its last token to run."""
    limit = min(len(seqs[i]) for i in items) - 1
    first, n = seqs[items[0]], depth
    while n < limit and all(seqs[i][n] == first[n] for i in items):
        n += 1
    return n


def _split(seqs, items, depth) -> list[list[int]]:
    """Items (sorted) grouped by their token at `depth`."""
    groups: list[list[int]] = []
    for i in items:
        if groups and seqs[groups[-1][0]][depth] == seqs[i][depth]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _suffix_tokens(seqs, items, depth) -> int:
    return sum(len(seqs[i]) - depth for i in items) + ROW_COST * len(items)


def batches(lengths: list[int], max_rows: int) -> list[list[int]]:
    """Rows grouped into batches of at most `max_rows`, fewest padded tokens plus CALL_COST per batch.

    Rows sorted by length are cut into runs by dynamic programming: a batch runs as many
    tokens as its rows times its longest row.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    best, cut = [0] + [None] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(max(0, end - max_rows), end):
            cost = best[start] + (end - start) * lengths[order[end - 1]] + CALL_COST
            if best[end] is None or cost < best[end]:
                best[end], cut[end] = cost, start
    out, end = [], len(order)
    while end:
        out.append(order[cut[end] : end])
        end = cut[end]
    return out[::-1]


@dataclass
class Row:
    what: Node | int  # a prefix node, or a prompt's index
    after: Node | None  # the node whose prefix comes before (None: the start of the text)
    tokens: list[int]


def schedule(root: Node, seqs: list[list[int]], max_rows: int) -> list[list[Row]]:
    """Batches of rows in running order: the prefix nodes wave by wave (each after its parent's),
    then every prompt, so that prompts from anywhere in the tree share batches."""
    out, nodes, prompts = [], [], []

    def known(node, after):
        prompts.extend(Row(i, after, seqs[i][node.depth :]) for i in node.prompts)
        for child in node.children:
            nodes.append(Row(child, after, child.tokens)) if child.tokens else known(child, after)

    nodes.append(Row(root, None, root.tokens)) if root.tokens else known(root, None)
    while nodes:
        wave, nodes = nodes, []
        for batch in batches([len(r.tokens) for r in wave], max_rows):
            out.append([wave[k] for k in batch])
            for k in batch:
                known(wave[k].what, wave[k].what)
    return out + [[prompts[k] for k in b] for b in batches([len(r.tokens) for r in prompts], max_rows)]


def tokens_run(root: Node, seqs: list[list[int]], max_rows: int) -> int:
    """Tokens a run of the plan puts through the model, padding included (a naive pass runs sum(len))."""
    return sum(len(b) * max(len(r.tokens) for r in b) for b in schedule(root, seqs, max_rows))

//! Evaluation order inside one vars block (rule 5): a variable comes after the variables of
//! the same block it reads; variables that read each other in a circle cannot be ordered.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// The result of ordering a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Indices of the entries that can be evaluated, in evaluation order. Ties keep the order
    /// of the block, so independent variables are evaluated as written.
    pub order: Vec<usize>,
    /// Each cycle as the indices along it, starting from its first entry in block order.
    pub cycles: Vec<Vec<usize>>,
}

/// Orders `n` entries where `reads[i]` lists the entries `i` reads (self-reads excluded).
/// Entries in a cycle are left out of `order`; entries that only depend on a cycle are kept,
/// after everything else they read.
pub fn order(reads: &[Vec<usize>]) -> Order {
    let n = reads.len();
    // Most blocks have no cycle: then a topological order covers every entry and the strongly
    // connected components need not be worked out.
    let order = topological(reads, &vec![None; n]);
    if order.len() == n {
        return Order {
            order,
            cycles: Vec::new(),
        };
    }
    let in_cycle = cycle_members(reads);
    let order = topological(reads, &in_cycle);
    let mut cycles: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        if let Some(component) = in_cycle[i] {
            if !cycles.iter().any(|c| in_cycle[c[0]] == Some(component)) {
                cycles.push(walk_cycle(i, reads, &in_cycle));
            }
        }
    }
    Order { order, cycles }
}

/// The entries outside cycles (`in_cycle[i]` is `None`), each after those it reads, ties in
/// block order; what an entry reads on a cycle does not hold it back.
fn topological(reads: &[Vec<usize>], in_cycle: &[Option<usize>]) -> Vec<usize> {
    let n = reads.len();
    let mut pending = vec![0usize; n];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, deps) in reads.iter().enumerate() {
        if in_cycle[i].is_some() {
            continue;
        }
        for &d in deps {
            if d != i && in_cycle[d].is_none() {
                pending[i] += 1;
                readers[d].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n)
        .filter(|&i| in_cycle[i].is_none() && pending[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &r in &readers[i] {
            pending[r] -= 1;
            if pending[r] == 0 {
                ready.push(Reverse(r));
            }
        }
    }
    order
}

/// Marks every entry that lies on a cycle with the id of its strongly connected component.
fn cycle_members(reads: &[Vec<usize>]) -> Vec<Option<usize>> {
    // Kosaraju's algorithm, not petgraph's `tarjan_scc`: that one recurses once per entry on a
    // dependency chain, and a block of 100,000 entries would overflow the stack; Kosaraju's walks
    // with explicit stacks.
    let n = reads.len();
    let mut graph = DiGraph::<(), ()>::with_capacity(n, reads.iter().map(Vec::len).sum());
    for _ in 0..n {
        graph.add_node(());
    }
    for (v, ws) in reads.iter().enumerate() {
        for &w in ws.iter().filter(|&&w| w != v) {
            graph.add_edge(NodeIndex::new(v), NodeIndex::new(w), ());
        }
    }
    let mut component = vec![None; n];
    let cycles = kosaraju_scc(&graph)
        .into_iter()
        .filter(|members| members.len() > 1);
    for (id, members) in cycles.enumerate() {
        for m in members {
            component[m.index()] = Some(id);
        }
    }
    component
}

/// A cycle through `start` inside its component, as a path that returns to `start`.
fn walk_cycle(start: usize, reads: &[Vec<usize>], in_cycle: &[Option<usize>]) -> Vec<usize> {
    let component = in_cycle[start];
    // Breadth-first search back to `start` gives the shortest cycle through it.
    let n = reads.len();
    let mut prev = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::new();
    queue.push_back(start);
    while let Some(v) = queue.pop_front() {
        for &w in &reads[v] {
            if w == v || in_cycle[w] != component {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = prev[cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if prev[w] == usize::MAX {
                prev[w] = v;
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_entries_keep_block_order() {
        let o = order(&[vec![], vec![], vec![]]);
        assert_eq!(o.order, vec![0, 1, 2]);
        assert!(o.cycles.is_empty());
    }

    #[test]
    fn readers_come_after_what_they_read() {
        // 0 reads 2, 2 reads 1.
        let o = order(&[vec![2], vec![], vec![1]]);
        assert_eq!(o.order, vec![1, 2, 0]);
    }

    #[test]
    fn self_reads_are_not_dependencies() {
        let o = order(&[vec![0], vec![1, 0]]);
        assert_eq!(o.order, vec![0, 1]);
        assert!(o.cycles.is_empty());
    }

    #[test]
    fn cycles_are_reported_and_left_out() {
        // 0 <-> 1 is a cycle, 2 reads 0, 3 is free.
        let o = order(&[vec![1], vec![0], vec![0], vec![]]);
        assert_eq!(o.cycles, vec![vec![0, 1]]);
        assert_eq!(o.order, vec![2, 3]);
    }

    #[test]
    fn a_three_way_cycle_is_walked_in_read_order() {
        let o = order(&[vec![1], vec![2], vec![0]]);
        assert_eq!(o.cycles, vec![vec![0, 1, 2]]);
        assert!(o.order.is_empty());
    }

    #[test]
    fn a_long_chain_does_not_recurse() {
        let n = 100_000;
        let reads: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![] })
            .collect();
        let o = order(&reads);
        assert_eq!(o.order.len(), n);
        assert_eq!(o.order[0], n - 1);
    }

    #[test]
    fn a_long_cycle_is_one_cycle_without_recursion() {
        let n = 100_000;
        let reads: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        let o = order(&reads);
        assert!(o.order.is_empty());
        assert_eq!(o.cycles.len(), 1);
        assert_eq!(o.cycles[0].len(), n);
    }

    #[test]
    fn separate_cycles_are_reported_apart() {
        // 0 <-> 1 and 2 <-> 3, and 4 reads both.
        let o = order(&[vec![1], vec![0], vec![3], vec![2], vec![0, 2]]);
        assert_eq!(o.cycles, vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(o.order, vec![4]);
    }
}

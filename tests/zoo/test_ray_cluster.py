"""A multi-node Ray cluster on one machine (Ray's own `ray.cluster_utils.Cluster`: a head and two
worker nodes of one CPU each): the chunks of a stack spread over the nodes, a worker node removed
while it trains loses nothing, and the stack is bit for bit the local executor's."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from gmia.zoo import TrainSpec, ZooStore
from gmia.zoo.executors import RayExecutor

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

# Each chunk takes a few seconds, so a node can be removed while it trains one (200,000 steps:
# with the compiled trainer 12,000 had left about a second of margin, mostly Ray starting workers).
SPEC = TrainSpec(hidden=(16,), activation="tanh", optimizer="sgd", lr=0.05, steps=200000, batch_size=20)


def _stack(store, blobs, models=6):
    x, y = blobs
    idx = np.sort(np.random.default_rng(0).integers(0, len(x), size=(models, 200)), axis=1)
    return store.get(x, y, "blobs", idx, SPEC, seed=7, n_classes=2, chunk_size=2)


@pytest.mark.slow
def test_a_three_node_cluster_that_loses_a_node_mid_run_gives_the_local_stack(tmp_path, blobs):
    local = _stack(ZooStore(tmp_path / "local"), blobs)
    ray.shutdown()  # another module's local instance, if any: this test connects to its own cluster
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        doomed = cluster.add_node(num_cpus=1)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        executor = RayExecutor(address=cluster.address)
        executor._connect()
        assert len([n for n in ray.nodes() if n["Alive"]]) == 3
        result, error = {}, {}

        def run():
            try:
                result["zoo"] = _stack(ZooStore(tmp_path / "ray", executor=executor), blobs)
            except BaseException as exc:  # surfaced by the assertion below
                error["exc"] = exc

        started = time.time()
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(3.0)  # the three chunks are running, one per node (one CPU each)
        assert thread.is_alive(), "the chunks finished before the node could be removed; make them longer"
        cluster.remove_node(doomed)
        thread.join(300)
        seconds = time.time() - started
        assert not error, error
        for name in local.params:
            assert torch.equal(local.params[name], result["zoo"].params[name])
        # Every chunk came back, none from the removed node (its task was retried on another), and
        # they were spread: the two surviving nodes trained them all.
        assert sum(executor.chunks_by_node.values()) == 3
        assert doomed.unique_id not in executor.chunks_by_node and len(executor.chunks_by_node) == 2
        print(f"three-node run with one node removed: {seconds:.1f} s, chunks by node {executor.chunks_by_node}")
    finally:
        ray.shutdown()
        cluster.shutdown()

#!/usr/bin/env python3
"""Reference timings for packages/santa/bench/santa.bench.ts, with the same shapes and the same work:
memory build (M 5172 text-like embeddings, d 1024: normalise, + N(0, 0.015), normalise, then
scikit-learn KMeans with K 100, n_init 1, max_iter 10, k-means++ init) and Santa in numpy (paper
equation 7, L 32, tau 0.1, lambda 0.3) for batches of 1 and 256 queries.

Prints one JSON line per measurement in the repository's benchmark format, names prefixed
`reference/`. Run with Debian's Python (numpy, scikit-learn):
    /usr/bin/python3 tools/bench_santa_reference.py
"""
import os
import sys

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import LAST_CPU_SECONDS, report, timed  # noqa: E402

M, DIM, K, ITERATIONS, VARIANCE, TOPICS = 5172, 1024, 100, 10, 0.015, 200
TOP_L, TAU, LAMBDA = 32, 0.1, 0.3
REPEATS = int(os.environ.get('BENCH_REPEATS', '3'))


def synthetic_embeddings(rows, seed):
    """Text-like embeddings, as the TypeScript benchmark: topic centre + N(0, 0.7^2)."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    labels = rng.integers(0, TOPICS, rows)
    return (topics[labels] + 0.7 * rng.standard_normal((rows, DIM))).astype(np.float32)


def normalise(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def build_memory(texts, seed):
    rng = np.random.default_rng(seed)
    memory = normalise(texts)
    memory = normalise(memory + rng.normal(0.0, np.sqrt(VARIANCE), memory.shape).astype(np.float32))
    km = KMeans(n_clusters=K, n_init=1, max_iter=ITERATIONS, init='k-means++', algorithm='lloyd', tol=0.0, random_state=seed)
    km.fit(memory)
    clusters = [np.flatnonzero(km.labels_ == c) for c in range(K)]
    return memory, km.cluster_centers_.astype(np.float32), clusters, km.n_iter_


def santa(audio, memory, centroids, clusters):
    """Equation 7 for a batch: closest centroid, top L members by distance, softmax(z.m / tau), mix, normalise."""
    z = normalise(audio)
    distances = (centroids * centroids).sum(1)[None, :] - 2.0 * z @ centroids.T
    nonempty = np.array([len(c) > 0 for c in clusters])
    distances[:, ~nonempty] = np.inf
    closest = distances.argmin(1)
    out = np.empty_like(z)
    for q in range(z.shape[0]):
        members = memory[clusters[closest[q]]]
        dots = members @ z[q]
        if len(dots) > TOP_L:
            # Memory rows are unit norm, so the closest members are the largest dot products.
            top = np.argpartition(-dots, TOP_L - 1)[:TOP_L]
            members, dots = members[top], dots[top]
        w = np.exp((dots - dots.max()) / TAU)
        w /= w.sum()
        out[q] = (1.0 - LAMBDA) * z[q] + LAMBDA * (w @ members)
    return normalise(out)






def main():
    texts = synthetic_embeddings(M, 1)
    state = {}

    def build():
        state['memory'] = build_memory(texts, 0)

    samples = timed(build, 1, REPEATS)
    memory, centroids, clusters, n_iter = state['memory']
    report('reference/santa/memory-build-sklearn', 's', False, samples,
           {'M': M, 'dim': DIM, 'k': K, 'iterations': ITERATIONS, 'variance': VARIANCE, 'init': 'k-means++',
            'implementation': 'scikit-learn KMeans (lloyd, n_init 1, tol 0)', 'iterationsRun': int(n_iter), 'cpuSeconds': list(LAST_CPU_SECONDS)})

    queries = synthetic_embeddings(256, 2)
    for batch in (1, 256):
        calls = 256 if batch == 1 else 8
        inputs = [queries[b * batch:(b + 1) * batch] for b in range(256 // batch)]

        def run():
            for c in range(calls):
                santa(inputs[c % len(inputs)], memory, centroids, clusters)

        samples = [calls * batch / s for s in timed(run, 1, max(REPEATS, 5))]
        report(f'reference/santa/santa-queries-batch{batch}', 'queries/s', True, samples,
               {'M': M, 'dim': DIM, 'k': K, 'topL': TOP_L, 'tau': TAU, 'lambda': LAMBDA, 'batch': batch, 'implementation': 'numpy', 'cpuSeconds': list(LAST_CPU_SECONDS)})


if __name__ == '__main__':
    main()

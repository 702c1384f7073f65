#!/usr/bin/env python3
"""Writes packages/santa/fixtures/gap.json: an independent reference for @mats/santa's gap statistics.

- Logistic regression: the minimiser of mean log-loss + l2/2 ||w||^2 (bias unpenalised) on 60 points
  in 6-d from two overlapping Gaussian clouds, found by scipy.optimize.minimize (L-BFGS-B, analytic
  gradient, tight tolerances): weights, bias and the objective at the optimum.
- Modality gap in numpy on 25 paired (audio, text) rows in 8-d: mean paired cosine, mean paired
  distance, centroid distance and mean infinity norm of the difference (rows L2-normalised first).

Run with a Python that has numpy and scipy (Debian: apt-get install python3-numpy python3-scipy):
  python3 tools/make_gap_fixture.py
"""
import json
import os

import numpy as np
from scipy.optimize import minimize

OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'santa', 'fixtures', 'gap.json')
rng = np.random.default_rng(16)

# Logistic regression.
n, d, l2 = 60, 6, 0.05
x = np.concatenate([rng.normal(0.4, 1.0, (n // 2, d)), rng.normal(-0.3, 1.0, (n // 2, d))]).astype(np.float32)
y = np.concatenate([np.ones(n // 2), np.zeros(n // 2)])
xd = x.astype(np.float64)


def objective(params):
    w, b = params[:d], params[d]
    z = xd @ w + b
    loss = np.mean(np.logaddexp(0, z) - y * z) + 0.5 * l2 * w @ w
    r = 1 / (1 + np.exp(-z)) - y
    grad = np.concatenate([xd.T @ r / n + l2 * w, [r.mean()]])
    return loss, grad


res = minimize(objective, np.zeros(d + 1), jac=True, method='L-BFGS-B', options={'gtol': 1e-12, 'ftol': 1e-15, 'maxiter': 10000})
assert res.success, res.message

# Modality gap.
audio = rng.normal(0.2, 1.0, (25, 8)).astype(np.float32)
text = (0.6 * audio + rng.normal(-0.2, 0.8, (25, 8))).astype(np.float32)
a = audio.astype(np.float64) / np.linalg.norm(audio.astype(np.float64), axis=1, keepdims=True)
t = text.astype(np.float64) / np.linalg.norm(text.astype(np.float64), axis=1, keepdims=True)
gap = {
    'meanPairedCosine': float(np.mean(np.sum(a * t, axis=1))),
    'meanPairedDistance': float(np.mean(np.linalg.norm(a - t, axis=1))),
    'centroidDistance': float(np.linalg.norm(a.mean(0) - t.mean(0))),
    'meanInfNorm': float(np.mean(np.max(np.abs(a - t), axis=1))),
}

with open(OUT, 'w') as f:
    json.dump(
        {
            'logistic': {'x': x.tolist(), 'labels': y.astype(int).tolist(), 'l2': l2, 'weights': res.x[:d].tolist(), 'bias': float(res.x[d]), 'loss': float(res.fun)},
            'gap': {'audio': audio.tolist(), 'text': text.tolist(), **gap},
        },
        f,
        indent=1,
    )
print(f'wrote {OUT}: objective {res.fun:.10f}, {res.nit} iterations')

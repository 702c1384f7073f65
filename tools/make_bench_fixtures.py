#!/usr/bin/env python3
"""Writes the reference values that @mats/bench's tests compare against.

Run with Debian's Python (scikit-learn installed): /usr/bin/python3 tools/make_bench_fixtures.py

- packages/bench/fixtures/sklearn-average-precision.json: multi-label score/target matrices (with
  tied scores and a class without positives) and scikit-learn's average_precision_score per class
  and macro-averaged.
- packages/bench/fixtures/mmau-strategies.json: the MMAU breakdown (per task, difficulty,
  sub-category, total) for several constructed prediction strategies on ../shared/data/
  mmau-test-mini.json, scored with Python's `re` (`\\b\\w+\\b` on lower case, word sets) by the
  rule the MMAU repository's evaluation.py applies. Skipped when the MMAU file is absent.
"""
import json
import os
import re
import sys
import warnings

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'packages', 'bench', 'fixtures')
MMAU = os.path.join(ROOT, '..', 'shared', 'data', 'mmau-test-mini.json')


def ap_cases():
    rng = np.random.default_rng(20261127)
    cases = []
    for name, items, classes, decimals in [('small-ties', 8, 3, 1), ('medium', 40, 6, 2), ('coarse-ties', 25, 5, 0)]:
        scores = rng.random((items, classes))
        if decimals == 0:
            scores = np.floor(scores * 4) / 4  # only 4 distinct values: many ties
        else:
            scores = np.round(scores, decimals)
        targets = (rng.random((items, classes)) < 0.35).astype(int)
        targets[:, -1] = 0  # a class without positives
        targets[0, 0] = 1   # make sure class 0 has one
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            per_class = [float(average_precision_score(targets[:, c], scores[:, c])) for c in range(classes)]
            macro = float(average_precision_score(targets, scores, average='macro'))
        cases.append({'name': name, 'scores': scores.tolist(), 'targets': targets.tolist(),
                      'perClass': per_class, 'macro': macro})
    return cases


def tokenize(text):
    return set(re.findall(r'\b\w+\b', text.lower()))


def is_correct(prediction, answer, choices):
    pred = tokenize(prediction)
    ans = tokenize(answer)
    if not pred:
        return False
    incorrect = set()
    for choice in choices:
        toks = tokenize(choice)
        if toks != ans:
            incorrect |= toks - ans
    return ans <= pred and not (pred & incorrect)


def breakdown(items, predictions):
    cells = {'total': [0, 0], 'task': {}, 'difficulty': {}, 'sub-category': {}}
    for item, pred in zip(items, predictions):
        ok = is_correct(pred, item['answer'], item['choices'])
        targets = [cells['total'],
                   cells['task'].setdefault(item['task'], [0, 0]),
                   cells['difficulty'].setdefault(item['difficulty'], [0, 0]),
                   cells['sub-category'].setdefault(item['sub-category'], [0, 0])]
        for t in targets:
            t[1] += 1
            t[0] += int(ok)

    def cell(c):
        return {'correct': c[0], 'count': c[1], 'accuracy': c[0] / c[1] * 100 if c[1] else 0}

    return {'total': cell(cells['total']),
            **{k: {n: cell(c) for n, c in cells[k].items()} for k in ('task', 'difficulty', 'sub-category')}}


def mmau_strategies():
    if not os.path.exists(MMAU):
        print(f'skipping MMAU fixture: {MMAU} not found', file=sys.stderr)
        return None
    items = json.load(open(MMAU))
    strategies = {
        'answer': [it['answer'] for it in items],
        'first-choice': [it['choices'][0] for it in items],
        'last-choice': [it['choices'][-1] for it in items],
        'sentence': [f"The answer is {it['answer']}." for it in items],
        'upper-punct': [it['answer'].upper() + '!!' for it in items],
        'two-options': [f"{it['choices'][0]} or {it['choices'][1]}" for it in items],
        'letter-b': ['B' for _ in items],
        'empty': ['' for _ in items],
    }
    return {'source': 'mmau-test-mini.json', 'items': len(items),
            'strategies': {name: breakdown(items, preds) for name, preds in strategies.items()}}


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'sklearn-average-precision.json'), 'w') as f:
        json.dump({'sklearn': sklearn.__version__, 'cases': ap_cases()}, f)
    mmau = mmau_strategies()
    if mmau is not None:
        with open(os.path.join(OUT, 'mmau-strategies.json'), 'w') as f:
            json.dump(mmau, f, indent=1)
    print('wrote fixtures to', OUT)


if __name__ == '__main__':
    main()

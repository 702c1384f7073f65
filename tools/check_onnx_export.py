#!/usr/bin/env python3
"""Checks every .onnx file of an export folder (`mats export RUN --out DIR`) with the official ONNX
checker, shape inference included: an independent check that the TypeScript graph builder writes
valid ONNX. Needs the `onnx` Python package (Debian: apt-get install python3-onnx).

Run: /usr/bin/python3 tools/check_onnx_export.py DIR
"""
import json
import os
import sys

import onnx


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    folder = sys.argv[1]
    manifest = json.load(open(os.path.join(folder, 'config.json')))
    failures = 0
    for name in sorted(f for f in os.listdir(folder) if f.endswith('.onnx')):
        path = os.path.join(folder, name)
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            opsets = {o.domain or 'ai.onnx': o.version for o in model.opset_import}
            print(f'ok   {name}: ir {model.ir_version}, opsets {opsets}, {len(model.graph.node)} nodes, '
                  f'inputs {[i.name for i in model.graph.input]}')
        except Exception as err:  # noqa: BLE001 - report every file
            failures += 1
            print(f'FAIL {name}: {err}')
    print(f"manifest: format {manifest.get('format')}, opset {manifest.get('opset')}")
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()

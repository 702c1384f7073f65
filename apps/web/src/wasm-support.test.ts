import { describe, expect, it } from 'vitest';
import { wasmProblem } from './wasm-support.js';

describe('wasmProblem', () => {
  it('accepts an engine with WebAssembly SIMD (Node 20 has it): the probe is a valid SIMD module', () => {
    expect(wasmProblem()).toBeNull();
  });

  it('names SIMD when the engine rejects the probe, and WebAssembly when there is none', () => {
    let seen: Uint8Array | null = null;
    const noSimd = { validate: (b: Uint8Array) => ((seen = b), false) };
    expect(wasmProblem(noSimd)).toMatch(/lacks WebAssembly SIMD/);
    // The probe really uses a SIMD opcode (0xfd prefix): an engine without SIMD cannot accept it.
    expect(Array.from(seen!)).toContain(0xfd);
    expect(wasmProblem({} as never)).toMatch(/no WebAssembly/);
  });
});

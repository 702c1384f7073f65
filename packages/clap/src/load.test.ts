import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadClap, type ClapSpec } from './load.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('loadClap', () => {
  it('opens the ONNX pair from a config-style spec', async () => {
    const clap = await loadClap({ type: 'onnx', audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), threads: 1 });
    expect(clap.dim).toBe(1024);
    expect((await clap.embedText(['a dog barks'])).rows).toBe(1);
    await clap.dispose();
    await expect(clap.embedText(['x'])).rejects.toThrow(/used after dispose/);
  });

  it('names what is wrong with a spec', async () => {
    await expect(loadClap({ type: 'mystery' } as unknown as ClapSpec)).rejects.toThrow('loadClap: spec.type must be "tiny" or "onnx", got "mystery"');
    await expect(loadClap({ type: 'tiny', dir: '' })).rejects.toThrow(/spec.dir .* is required/);
    await expect(loadClap({ type: 'tiny', dir: '/nonexistent/tiny' })).rejects.toThrow('/nonexistent/tiny/config.json: tiny CLAP config not found');
    await expect(loadClap({ type: 'onnx', audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
  });
});

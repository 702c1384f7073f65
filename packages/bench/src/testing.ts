import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Paths into the development checkout's ../shared folder (absent in a user's clone). */
export function sharedDataPath(name: string): string {
  return fileURLToPath(new URL(`../../../../shared/data/${name}`, import.meta.url));
}

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

export const hasShared = (name: string): boolean => existsSync(sharedDataPath(name));

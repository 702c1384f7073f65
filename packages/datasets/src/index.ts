/** @mats/datasets: see README.md. The public API is assembled here. */
export const PACKAGE_NAME = '@mats/datasets';
export * from './audio/index.js';

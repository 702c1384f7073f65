const target = process.argv[2] ?? 'train';
console.error(`trainer:${target} is not built yet (see the apps issue).`);
process.exitCode = 1;

const target = process.argv[2] ?? 'mmau';
console.error(`evaluator:${target} is not built yet (see the apps issue).`);
process.exitCode = 1;

"""Pure policy-engine logic: schema, loader, inheritance, compiler, evaluator, risk, diff."""

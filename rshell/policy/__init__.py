"""The policy: schema, loader, model and the per-principal view the verbs see."""

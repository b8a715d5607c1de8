"""Training of the codec and the flow model: losses, EMA, trainers and recipes (torch only)."""

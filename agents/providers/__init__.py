"""Provider adapters: one module per remote API, plus the local analyst agent."""

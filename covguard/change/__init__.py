"""Change control: what changed since a git revision, the tests a change needs, who covers a
line or requirement, and the justification ledger's command."""

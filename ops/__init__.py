"""Day-2 operations: one-off commands that are not deploy phases (ci init, and later switch, backup, drift, diagram)."""

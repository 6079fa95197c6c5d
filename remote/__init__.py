"""Everything that talks to a server over SSH: pinned host keys and the one SSH layer."""

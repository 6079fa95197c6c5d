"""The app phase's logic: releases, the deploy lock, the health check (over remote/ssh.py)."""

"""Registrar DNS: zones as data, the Namecheap client, merge-safe writes and backups.

Not called `dns`: that name belongs to dnspython.
"""

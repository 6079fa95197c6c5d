"""Sandbox machines: a real little host behind each emulated server.

When the emulator runs with --machines, every running server gets
- a network namespace holding the server's public IPv4 as a /32, reached from
  the host over one bridge (one /32 host route per machine, an `unreachable`
  route for the rest of the sandbox range, no default route inside);
- a PID 1 in fresh mount/UTS/PID namespaces, chrooted into a copy-on-write
  overlay of the host's / (per-server upper dir = the server's "disk");
- sshd on IP:22 with the host key from cloud-init, root's authorized_keys from
  the server's SSH keys; dockerd with its own data dir and cgroup parent;
  `docker compose` (Debian's compose 1.29 behind a CLI-plugin shim);
- its volumes bound where the user's cloud-init `mounts` puts them;
- the inbound rules of its firewalls enforced with nftables in the namespace.
Every load balancer gets a namespace of its own with HAProxy inside, proxying
its public IPv4 to its targets over the private networks.

Modules: netguard (range overlap check), cloudinit (user data -> boot plan),
firewall (rules -> nft), rootfs (the upper dir), net (namespaces, routes),
machine (one machine's start/stop), controller (follows the emulator), sweep
(`sandbox down` cleanup), images (registry-free images from host files),
haproxy_cfg (a load balancer record -> haproxy.cfg), lbsync (the store's load
balancers -> LbSpecs), lb (one load balancer's namespace and HAProxy).
"""

"""Every resource type the stand-in serves."""
from sandbox.provider.resources.certificate import ManagedCertificate
from sandbox.provider.resources.firewall import Firewall, FirewallAttachment
from sandbox.provider.resources.ips import (RDNS, FloatingIPAssignment, FloatingIPResource,
                                            PrimaryIPResource)
from sandbox.provider.resources.keys import PlacementGroup, SSHKey
from sandbox.provider.resources.lb_parts import (LoadBalancerServiceResource,
                                                 LoadBalancerTargetResource)
from sandbox.provider.resources.load_balancer import LoadBalancer, LoadBalancerNetwork
from sandbox.provider.resources.networks import (HcloudNetwork, NetworkRouteResource,
                                                 NetworkSubnetResource, ServerNetwork)
from sandbox.provider.resources.server import HcloudServer
from sandbox.provider.resources.volume import Volume, VolumeAttachment
from sandbox.provider.resources.zone import Zone, ZoneRRSet

ALL = (ManagedCertificate, Firewall, FirewallAttachment, RDNS, FloatingIPAssignment,
       FloatingIPResource, PrimaryIPResource, PlacementGroup, SSHKey,
       LoadBalancerServiceResource, LoadBalancerTargetResource, LoadBalancer,
       LoadBalancerNetwork, HcloudNetwork, NetworkRouteResource, NetworkSubnetResource,
       ServerNetwork, HcloudServer, Volume, VolumeAttachment, Zone, ZoneRRSet)

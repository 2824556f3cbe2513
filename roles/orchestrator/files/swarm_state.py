# Managed by corral.cassandra.orchestrator: read by the role through one raw exec, no module.
"""Prints, as JSON, what the orchestrator role compares with what it wants: the engine's info,
its networks, the swarm's nodes (on a manager) and the host's IPv4 addresses.

Talks to the engine's API socket directly (the same JSON as the Docker SDK). Standard library
only (Python 3.6+), read-only.
"""
import http.client
import ipaddress
import json
import os
import socket
import subprocess

SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").replace("unix://", "", 1)


class _UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(SOCKET)


def api(path):
    """The engine's answer to GET path, or None with the error in errors."""
    try:
        connection = _UnixConnection("localhost")
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    except OSError as exc:
        errors[path] = str(exc)
        return None
    if response.status != 200:
        errors[path] = body.decode("utf-8", "replace").strip()
        return None
    return json.loads(body.decode("utf-8"))


def ip_json(*args):
    try:
        done = subprocess.run(["ip", "-j", "-4"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        return json.loads(done.stdout.decode("utf-8") or "[]") if done.returncode == 0 else []
    except (OSError, ValueError):
        return []


def ipv4():
    """The default route's source address and every interface's IPv4 network."""
    networks, by_device = [], {}
    for interface in ip_json("addr", "show"):
        for address in interface.get("addr_info") or []:
            if address.get("family") != "inet" or "local" not in address:
                continue
            network = ipaddress.ip_interface("%s/%s" % (address["local"], address.get("prefixlen", 32))).network
            networks.append({"source": "interface " + interface.get("ifname", "?"), "cidr": str(network)})
            by_device.setdefault(interface.get("ifname"), address["local"])
    default = ""
    for route in ip_json("route", "show", "default"):
        default = route.get("prefsrc") or by_device.get(route.get("dev"), "")
        if default:
            break
    return {"default_address": default, "networks": networks}


errors = {}
info = api("/info")
swarm = (info or {}).get("Swarm") or {}
state = {
    "info": info,
    "networks": api("/networks") if info is not None else None,
    # Only a manager lists the swarm's nodes.
    "nodes": api("/nodes") if swarm.get("ControlAvailable") else None,
    "ipv4": ipv4(),
}
state["errors"] = errors
print(json.dumps(state))

"""Fault injection: misbehaving loopback servers and the table run against them."""
